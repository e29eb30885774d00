export * from './agent.entity';
