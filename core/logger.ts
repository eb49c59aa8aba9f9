/** pino logger. Logs go to stderr so that stdout stays clean for command output (`twichist sql`). */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', name = 'twichist'): Logger {
  return pino({ name, level }, pino.destination({ fd: 2, sync: false }));
}
