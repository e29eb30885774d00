export * from './agent.entity';
export * from './agents.module';
export * from './agents.service';
export * from './dto/agent.response';
export * from './dto/create-agent.dto';
export * from './admin-bootstrap.service';
