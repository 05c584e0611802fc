import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON line per event on stderr, so stdout stays free for programs' answers. */
export function createLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination(2));
}
