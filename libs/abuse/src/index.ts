export * from './abuse-store';
export * from './abuse.module';
export * from './client-lockout.service';
export * from './rate-limit.guard';
