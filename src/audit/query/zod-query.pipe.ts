import { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ValidationError } from '../../common/errors';

/**
 * Validates a query string against a zod schema at the edge; failures become 400 problem+json.
 * A repeated parameter arrives as an array and is refused by the schema like any other bad value.
 */
export class ZodQueryPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value ?? {});
    if (result.success) return result.data;
    const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || '(query)', message: i.message }));
    throw new ValidationError(`The query is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  }
}
