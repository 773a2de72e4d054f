// Structured JSON logs (pino): one line per record, cheap when a level is disabled.
//
// One key per line: pino writes a child's bindings after its parent's and a line's fields after
// both, without merging, so a key bound twice (or bound and passed again) appears twice in the
// line, and log shippers keep either. Every process logger binds `pid` and `component`; a part of
// a process (the producer, kafkajs) says which it is with `module`, through childLogger, which
// refuses a key that is already bound.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Logs go to stdout for the servers; `to: 'stderr'` for commands whose stdout is their result
 * (replay prints a JSON summary there, which a script must be able to parse alone).
 *
 * Written synchronously, as console.log writes to a file or a pipe. pino's default stdout writes in
 * libuv's thread pool: a line still there when the process exits (every command ends with
 * process.exit) lands after the lines process.exit flushes, or is lost, so `trackhouse start`
 * could say "part kafka stopped" after its final "stopped", and the last lines before a hard exit
 * (SHUTDOWN_TIMEOUT_MS, a crash) could go missing. Logs are a few lines per second, none per event.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, to: 'stdout' | 'stderr' = 'stdout'): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(options, destination(to));
}

/** One synchronous destination per stream and thread, shared by every logger of it. */
const destinations = new Map<'stdout' | 'stderr', pino.DestinationStream>();
function destination(to: 'stdout' | 'stderr'): pino.DestinationStream {
  let d = destinations.get(to);
  if (d === undefined) {
    d = pino.destination({ fd: to === 'stdout' ? 1 : 2, sync: true });
    destinations.set(to, d);
  }
  return d;
}

/** A child logger whose bindings are new keys: throws on a key the parent already binds. */
export function childLogger(log: Logger, bindings: Record<string, unknown>): Logger {
  const bound = log.bindings();
  const twice = Object.keys(bindings).filter((k) => k in bound || k === 'pid' || k === 'hostname');
  if (twice.length > 0) throw new Error(`log key${twice.length > 1 ? 's' : ''} ${twice.join(', ')} already bound: a line would carry ${twice.length > 1 ? 'them' : 'it'} twice`);
  return log.child(bindings);
}

/** A logger that drops everything, for tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
