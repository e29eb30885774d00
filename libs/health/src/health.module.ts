import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessCheck } from './readiness-check';

@Module({})
export class HealthModule {
  /**
   * `readiness` replaces the default (database only) with a {@link ReadinessCheck} subclass that
   * adds checks; `imports` provides what that subclass injects.
   */
  static forRoot(
    options: { readiness?: Type<ReadinessCheck>; imports?: DynamicModule['imports'] } = {},
  ): DynamicModule {
    return {
      module: HealthModule,
      imports: [
        TerminusModule.forRoot({ errorLogStyle: 'pretty', gracefulShutdownTimeoutMs: 0 }),
        ...(options.imports ?? []),
      ],
      controllers: [HealthController],
      providers: [{ provide: ReadinessCheck, useClass: options.readiness ?? ReadinessCheck }],
    };
  }
}
