import type { z } from 'zod';
import { ValidationError } from './errors';

export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * The one formatter of zod issues: each as {path, message}, the path dotted and prefixed where the
 * validated value sits inside a larger one (providerConfig.x, scope.y); `root` names the whole value
 * when an issue is about it rather than a field. zod's messages name expectations and keys, never
 * the values given, so no secret a caller sent can reach the answer or the logs through here.
 */
export function fieldIssues(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = [], root = '(request)'): FieldIssue[] {
  return error.issues.map((i) => ({ path: [...prefix, ...i.path].map(String).join('.') || root, message: i.message }));
}

/** A 400 invalid-request: `subject`, then each field and what is wrong with it. */
export function validationErrorOf(
  error: z.ZodError,
  subject = 'The request is invalid',
  prefix: ReadonlyArray<PropertyKey> = [],
  root = '(request)',
): ValidationError {
  const errors = fieldIssues(error, prefix, root);
  return new ValidationError(`${subject}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}
