export * from './credential.entity';
