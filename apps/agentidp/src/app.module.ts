import { Module } from '@nestjs/common';
import { ConfigModule } from '@agentidp/config';
import { DatabaseModule } from '@agentidp/database';
import { HealthModule } from '@agentidp/health';

@Module({
  imports: [ConfigModule, DatabaseModule, HealthModule.forRoot()],
})
export class AppModule {}
