import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { isRequestLogMessage } from '@agentidp/common';
import type { AppConfig } from '@agentidp/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Nest's console logger, with the request id of lines logged for a request (a
 * `RequestLogMessage`): a JSON field in JSON mode, a `[req …]` tag in terminal mode.
 */
export class AppLogger extends ConsoleLogger {
  protected override stringifyJsonLogObject(logObject: Record<string, unknown>): string {
    const { message } = logObject;
    return super.stringifyJsonLogObject(
      isRequestLogMessage(message)
        ? { ...logObject, message: message.message, requestId: message.requestId }
        : logObject,
    );
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    return super.stringifyMessage(
      isRequestLogMessage(message) ? `${message.message} [req ${message.requestId}]` : message,
      logLevel,
    ) as string;
  }
}

/** Levels from LOG_LEVEL (`info` is Nest's `log`); JSON lines unless attached to a terminal. */
export function createLogger(config: AppConfig): AppLogger {
  const wanted = config.log.level === 'info' ? 'log' : config.log.level;
  const logLevels = LEVELS.slice(0, LEVELS.indexOf(wanted) + 1);
  return new AppLogger('AgentIdP', {
    logLevels,
    json: !process.stdout.isTTY,
    colors: Boolean(process.stdout.isTTY),
  });
}
