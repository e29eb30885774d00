import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import type { AppConfig } from '@agentidp/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Levels from LOG_LEVEL (`info` is Nest's `log`); JSON lines unless attached to a terminal. */
export function createLogger(config: AppConfig): ConsoleLogger {
  const wanted = config.log.level === 'info' ? 'log' : config.log.level;
  const logLevels = LEVELS.slice(0, LEVELS.indexOf(wanted) + 1);
  return new ConsoleLogger('AgentIdP', {
    logLevels,
    json: !process.stdout.isTTY,
    colors: Boolean(process.stdout.isTTY),
  });
}
