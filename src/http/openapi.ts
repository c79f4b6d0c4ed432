import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem-details';

/**
 * OpenAPI from the zod schemas the pipes validate with, so the documentation cannot drift from
 * the validation. `io: 'input'` documents what a caller sends (before defaults and transforms).
 */
export function openApiSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): SchemaObject {
  const json = z.toJSONSchema(schema, { io, target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json as SchemaObject;
}

/** The request body, from the schema its ZodBodyPipe validates with. */
export function ApiZodBody(schema: z.ZodType, description?: string): MethodDecorator {
  return ApiBody({ schema: openApiSchema(schema), description });
}

/** One query parameter per property of the object schema its query pipe validates with. */
export function ApiZodQuery(schema: z.ZodType): MethodDecorator {
  const json = openApiSchema(schema) as { properties?: Record<string, SchemaObject>; required?: string[] };
  return applyDecorators(
    ...Object.entries(json.properties ?? {}).map(([name, property]) =>
      ApiQuery({ name, required: json.required?.includes(name) ?? false, schema: property, description: property.description }),
    ),
  );
}

export function ApiZodParam(name: string, schema: z.ZodType, description?: string): MethodDecorator {
  return ApiParam({ name, required: true, schema: openApiSchema(schema), description });
}

/**
 * A success response whose body the zod schema describes. Documented as input too: response
 * schemas reuse request parts (a stored policy), whose transforms only canonicalize spelling.
 */
export function ApiZodResponse(status: number, schema: z.ZodType, description: string): MethodDecorator {
  return ApiResponse({ status, description, content: { 'application/json': { schema: openApiSchema(schema) } } });
}

const problemSchema: SchemaObject = {
  type: 'object',
  description: 'RFC 7807 problem details',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    requestId: { type: 'string' },
    gatewayResult: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (body, query or path)',
  401: 'Missing, invalid or refused credentials',
  403: 'Authenticated, but not allowed',
  404: 'No such resource',
  409: 'Conflicts with the current state (duplicate, revoked...)',
  413: 'Body too large',
  429: 'Rate limited (Retry-After)',
  502: 'The gateway answered something invalid',
  503: 'A dependency is unavailable (Retry-After)',
  504: 'The gateway did not answer in time',
};

/** The problem+json error responses a route can end in. */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } },
      }),
    ),
  );
}
