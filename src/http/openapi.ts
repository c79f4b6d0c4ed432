import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import type { OperationObject, ResponseObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE } from './problem-details';

/**
 * The RFC 7807 body every error answers with (problem-details.ts builds it). Request bodies,
 * queries, path parameters and success bodies are documented by nestjs-zod from the DTOs the
 * routes validate with (createZodDto, ZodResponse); only this shared error shape is declared here.
 */
export const problemDetailsSchema = z
  .object({
    type: z.url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable machine-readable code, e.g. invalid-request, rate-limited'),
    requestId: z.string().optional(),
    gatewayResult: z.string().optional().describe("The gateway's own result code, when the gateway refused"),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('One entry per invalid field (400 invalid-request)'),
  })
  .describe('RFC 7807 problem details');

export class ProblemDetails extends createZodDto(problemDetailsSchema) {}

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (body, query or path)',
  401: 'Missing, invalid or refused credentials',
  403: 'Authenticated, but not allowed',
  404: 'No such resource',
  409: 'Conflicts with the current state (duplicate, revoked...)',
  413: 'Body too large',
  415: 'The body is not application/json',
  429: 'Rate limited (Retry-After)',
  502: 'The gateway answered something invalid',
  503: 'A dependency is unavailable (Retry-After)',
  504: 'The gateway did not answer in time',
};

/** The problem+json error responses a route can end in, as OpenAPI response objects by status. */
export function problemResponses(...statuses: number[]): Record<string, ResponseObject> {
  return Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetails) } } },
      },
    ]),
  );
}

/** The problem+json error responses a route can end in (decorator form, for controllers). */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  const responses = problemResponses(...statuses);
  return applyDecorators(ApiExtraModels(ProblemDetails), ...statuses.map((status) => ApiResponse({ status, ...responses[String(status)] })));
}

/** Routes served by Fastify directly rather than by a Nest controller, with their OpenAPI operations (documentFastifyRoute). */
const fastifyRoutes: Array<{ path: string; method: 'post'; operation: OperationObject }> = [];

/**
 * Documents a route that Fastify serves directly (so @nestjs/swagger cannot see it): its operation
 * joins the document (buildOpenApiDocument), referring to schemas by name like the others.
 */
export function documentFastifyRoute(path: string, method: 'post', operation: OperationObject): void {
  if (!fastifyRoutes.some((r) => r.path === path && r.method === method)) fastifyRoutes.push({ path, method, operation });
}

/** The operations documentFastifyRoute collected. */
export function fastifyRouteOperations(): ReadonlyArray<{ path: string; method: 'post'; operation: OperationObject }> {
  return fastifyRoutes;
}

/*
 * A nullable top-level property of a nestjs-zod DTO comes out of @nestjs/swagger as an array
 * (`string | null` documented as `string[]`), which the conformance test caught; naming the type
 * in the metadata keeps it `{type: string, nullable: true}`. Validation is zod's as ever.
 */
export const nullableString = () => z.string().nullable().meta({ type: 'string' });
export const nullableInt = () => z.number().int().nullable().meta({ type: 'integer' });
