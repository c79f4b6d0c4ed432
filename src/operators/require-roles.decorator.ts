import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import type { OperatorRole } from './operator';

export const REQUIRED_ROLES = 'operator:required-roles';
/** OpenAPI operation extension listing the roles that may call it (the role-matrix test reads it). */
export const ROLES_EXTENSION = 'x-required-roles';

/**
 * Roles that may call a route (class or handler; the handler's list wins). The caller needs ANY
 * of them. OperatorAuthGuard refuses a route that declares none: access is never granted by omission.
 */
export const RequireRoles = (...roles: OperatorRole[]) => applyDecorators(SetMetadata(REQUIRED_ROLES, roles), ApiExtension(ROLES_EXTENSION, roles));
