import { describe, expect, it } from 'vitest';
import { parseReplayFrom, ReplayArgumentError } from './replay.js';

describe('replay --from', () => {
  it('reads an ISO 8601 time', () => {
    expect(parseReplayFrom('2026-11-01T00:00:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1) });
    expect(parseReplayFrom('2026-11-01')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1) });
  });

  it('reads partition:offset pairs', () => {
    const from = parseReplayFrom('0:1200,3:0');
    expect(from.kind === 'offsets' && [...from.offsets]).toEqual([
      [0, 1200],
      [3, 0],
    ]);
  });

  it('names what it expected for anything else', () => {
    for (const bad of ['yesterday', '1700000000', '0:1,0:2', '0:-1', '']) {
      expect(() => parseReplayFrom(bad)).toThrow(ReplayArgumentError);
    }
    expect(() => parseReplayFrom('soon')).toThrow(/ISO 8601 time .* partition:offset/);
  });
});
