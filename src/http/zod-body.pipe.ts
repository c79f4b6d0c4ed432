import { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ValidationError } from '../common/errors';

/** Validates a request body against a zod schema at the edge; failures become 400 problem+json. */
export class ZodBodyPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new ValidationError('The request body must be a JSON object.');
    }
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
    throw new ValidationError(`The request body is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  }
}
