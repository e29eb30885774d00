export * from './abuse-store';
export * from './abuse.module';
export * from './client-lockout.service';
export * from './rate-limit.guard';
export * from './rate-limiter';
export * from './postgres-abuse.store';
export * from './redis-abuse.store';
