// A pino logger whose lines tests can read back, parsed.
import { Writable } from 'node:stream';
import { pino } from 'pino';

export function capturingLogger(level: pino.LevelWithSilent): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, stream), lines };
}
