import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { AppConfig, ConfigValidationError, loadDotEnv } from '@agentidp/config';
import { createApp } from './app.factory';
import { applyHeapGrowth } from './heap-growth';

async function bootstrap(): Promise<void> {
  loadDotEnv();
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  applyHeapGrowth(config.runtime.heapGrowthPercent);
  const app = await createApp(config);
  const logger = new Logger('Bootstrap');

  // Nest's own shutdown hooks re-raise the signal (exit 143); Kubernetes wants a clean 0 after draining.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining in-flight requests`);
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${config.http.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, config.http.shutdownTimeoutMs).unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  await app.listen({ port: config.http.port, host: config.http.host });
  logger.log(
    `AgentIdP listening on ${config.http.host}:${config.http.port}; issuer ${config.http.publicUrl}`,
  );
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(
    `AgentIdP failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
