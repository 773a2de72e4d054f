// Whether a recorded pid still runs, with real processes: this one, a zombie, one that is gone.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { zombie } from '../../test/support/zombie.js';
import { processRunning, procStat } from './process.js';

describe('processRunning', () => {
  it('is true for a running process, false for a zombie (which kill(pid, 0) still finds) and for a pid that is gone', async () => {
    expect(processRunning(process.pid)).toBe(true);
    expect(procStat(process.pid)).toMatchObject({ state: expect.stringMatching(/^[RS]$/), startTicks: expect.any(Number) });
    const z = await zombie();
    try {
      expect(() => process.kill(z.pid, 0)).not.toThrow();
      expect(processRunning(z.pid)).toBe(false);
    } finally {
      z.end();
    }
    const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    expect(processRunning(Number(gone))).toBe(false);
  });
});
