export * from './vault-readiness.check';
export * from './vault-secret.strategy';
export * from './vault-token.manager';
export * from './vault.client';
export * from './vault.errors';
export * from './vault.health';
export * from './vault.module';
export * from './vault.options';
