export * from './all-exceptions.filter';
export * from './database-errors';
export * from './domain.exception';
export * from './error-code.enum';
export * from './oauth.exception';
export * from './parse-uuid.pipe';
export * from './request-id';
export * from './validation';
