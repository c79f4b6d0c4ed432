import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { OperatorAuthGuard } from './operator-auth.guard';
import { OperatorJwtStrategy } from './operator-jwt.strategy';

/**
 * Operator authentication; any module with admin or auditor routes imports it for OperatorAuthGuard.
 * The guard's OPERATOR_ACCESS_CHECKS come from the global RateLimitsModule (operator-access-checks.ts).
 */
@Module({
  imports: [PassportModule],
  providers: [OperatorJwtStrategy, OperatorAuthGuard],
  exports: [OperatorAuthGuard],
})
export class OperatorsModule {}
