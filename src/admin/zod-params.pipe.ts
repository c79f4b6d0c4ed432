import { PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ValidationError } from '../common/errors';

/** Validates a query string or a path parameter against a zod schema at the edge: 400 problem+json. */
export class ZodInputPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly what: 'query' | 'path',
  ) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(this.what === 'query' ? (value ?? {}) : value);
    if (result.success) return result.data;
    const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || `(${this.what})`, message: i.message }));
    throw new ValidationError(`The ${this.what} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  }
}
