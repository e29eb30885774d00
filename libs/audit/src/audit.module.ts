import { Global, Module } from '@nestjs/common';
import { AuditService } from './audit.service';

/** Global: every feature records events through {@link AuditService}. */
@Global()
@Module({
  providers: [AuditService],
  exports: [AuditService],
})
export class AuditModule {}
