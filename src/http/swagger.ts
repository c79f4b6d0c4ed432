import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { fastifyRouteOperations } from './openapi';

export const DOCS_PATH = 'docs';
export const OPENAPI_JSON_PATH = '/openapi.json';
/** The security scheme of POST /v1/bootstrap/devices: the local bootstrap token, not an operator's. */
export const BOOTSTRAP_SCHEME = 'bootstrap-token';

/**
 * The OpenAPI document of every route, built from the controllers' decorators and the zod DTOs
 * they validate with (nestjs-zod turns those into the document's schemas in cleanupOpenApiDoc),
 * plus the operations of the routes Fastify serves directly (documentFastifyRoute).
 */
export function buildOpenApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('pos-session-broker')
    .setDescription(
      'Brokers short-lived, scoped payment-gateway sessions for POS devices. Devices authenticate with a JWT signed by ' +
        'their own enrolled key (device-jwt); admins and auditors with a bearer JWT from the identity provider (bearer). ' +
        'Errors are RFC 7807 application/problem+json.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Operator token (roles admin, auditor)' })
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Device token (ES256/EdDSA, own key)' }, 'device-jwt')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The local bootstrap token (BOOTSTRAP_TOKEN_FILE); development only' }, BOOTSTRAP_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config);
  // Routes Fastify serves directly (POST /v1/sessions) are documented by their module.
  for (const { path, method, operation } of fastifyRouteOperations()) document.paths[path] = { ...document.paths[path], [method]: operation };
  return cleanupOpenApiDoc(document, { version: '3.0' });
}

/** Swagger UI at /docs and the JSON document at /openapi.json. */
export function setupOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
  });
}
