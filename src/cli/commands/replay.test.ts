import { describe, expect, it } from 'vitest';
import { ReplayArgumentError } from '../../replay/index.js';
import { parseReplayFrom } from './replay.js';

describe('replay --from', () => {
  it('reads an ISO 8601 time with a zone, and a plain date as midnight UTC', () => {
    expect(parseReplayFrom('2026-11-01T00:00:00Z')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1) });
    expect(parseReplayFrom('2026-11-01T01:30:00+01:00')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1, 0, 30) });
    expect(parseReplayFrom('2026-11-01T00:00:00.250-05:00')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1, 5, 0, 0, 250) });
    expect(parseReplayFrom('2026-11-01')).toEqual({ kind: 'time', ms: Date.UTC(2026, 10, 1) });
  });

  it('refuses a time without a zone instead of reading it as local time, naming --from', () => {
    for (const local of ['2026-11-01T00:00:00', '2026-11-01T10:00', '2026-11-01 10:00:00']) {
      expect(() => parseReplayFrom(local)).toThrow(ReplayArgumentError);
      expect(() => parseReplayFrom(local)).toThrow(
        `--from "${local}": a time needs a zone: end it with Z or an offset such as +02:00; expected an ISO 8601 time with a zone`,
      );
    }
  });

  it('refuses what Date.parse would guess at: impossible dates and engine-specific forms', () => {
    for (const bad of ['2026-02-30', '2026-11-01T24:00:00Z', '2026-11-01T00:00:00+25:00', '2026/11/01', 'Nov 1 2026', '2026-11-01Tnoon']) {
      expect(() => parseReplayFrom(bad)).toThrow(ReplayArgumentError);
      expect(() => parseReplayFrom(bad)).toThrow(/^--from "/);
    }
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
    expect(() => parseReplayFrom('soon')).toThrow(
      '--from "soon": expected an ISO 8601 time with a zone (2026-11-01T00:00:00Z, 2026-11-01T01:00:00+01:00), ' +
        'a date (2026-11-01, midnight UTC), or partition:offset pairs (0:1200,3:0)',
    );
    expect(() => parseReplayFrom('0:1,0:2')).toThrow('--from names partition 0 twice');
  });
});
