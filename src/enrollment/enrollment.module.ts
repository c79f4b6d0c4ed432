import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { OperatorsModule } from '../operators/operators.module';
import { TerminalsModule } from '../terminals/terminals.module';
import { EnrollmentCodeRepository } from './enrollment-code.repository';
import { EnrollmentCodesController } from './enrollment-codes.controller';
import { EnrollmentRateLimitGuard } from './enrollment-rate-limit.guard';
import { EnrollmentService } from './enrollment.service';
import { EnrollmentsController } from './enrollments.controller';

/** One-time enrollment codes: /v1/admin/enrollment-codes for admins, /v1/enrollments for devices. */
@Module({
  imports: [OperatorsModule, DevicesModule, TerminalsModule],
  controllers: [EnrollmentCodesController, EnrollmentsController],
  providers: [EnrollmentCodeRepository, EnrollmentService, EnrollmentRateLimitGuard],
})
export class EnrollmentModule {}
