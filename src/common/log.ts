// Structured JSON logs (pino): one line per record, cheap when a level is disabled.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Logs go to stdout for the servers; `to: 'stderr'` for commands whose stdout is their result
 * (replay prints a JSON summary there, which a script must be able to parse alone).
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, to: 'stdout' | 'stderr' = 'stdout'): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime };
  return to === 'stdout' ? pino(options) : pino(options, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
