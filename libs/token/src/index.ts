export * from './access-token.service';
export * from './jwt';
export * from './revoked-token.entity';
export * from './signing-key.entity';
export * from './signing-keys.service';
export * from './token.module';
export * from './token.service';
export * from './token.endpoint';
