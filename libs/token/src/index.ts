export * from './revoked-token.entity';
export * from './signing-key.entity';
