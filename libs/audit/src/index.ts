export * from './audit-chain';
export * from './audit-event-type.enum';
export * from './audit-event.entity';
export * from './audit-query.service';
export * from './audit.module';
export * from './audit.service';
