import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { RequestContext } from '@agentidp/common';
import type { AppConfig } from '@agentidp/config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Nest's console logger with the request id of the request being served on every line: a JSON
 * field in JSON mode, a `[req …]` tag in terminal mode.
 */
export class AppLogger extends ConsoleLogger {
  protected override stringifyJsonLogObject(logObject: Record<string, unknown>): string {
    const requestId = RequestContext.current()?.requestId;
    return super.stringifyJsonLogObject(requestId ? { ...logObject, requestId } : logObject);
  }

  protected override formatContext(context: string): string {
    const requestId = RequestContext.current()?.requestId;
    return super.formatContext(requestId ? `${context}] [req ${requestId}` : context);
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
