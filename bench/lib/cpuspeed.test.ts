import { describe, expect, it } from 'vitest';
import { cpuShares, cpuTicks } from './cpuspeed.js';

describe('cpuShares', () => {
  it('gives the stolen and busy shares of all CPU time between two readings', () => {
    expect(cpuShares({ busy: 1_000, idle: 500, steal: 100 }, { busy: 2_111, idle: 684, steal: 740 })).toEqual({ steal_pct: 33.1, busy_pct: 57.4 });
    expect(cpuShares({ busy: 10, idle: 10, steal: 0 }, { busy: 10, idle: 10, steal: 0 })).toBeNull();
    expect(cpuShares(null, { busy: 1, idle: 1, steal: 1 })).toBeNull();
  });

  it('reads /proc/stat on Linux', () => {
    const t = cpuTicks();
    if (process.platform !== 'linux') return;
    expect(t).not.toBeNull();
    expect(t!.busy + t!.idle).toBeGreaterThan(0);
  });
});
