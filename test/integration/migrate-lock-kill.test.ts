// A process killed (kill -9) while it holds the migrations lock, half-way through migration 004
// (the event rollup rebuilt, the category rollup's delete sent): the lock passes on after
// MIGRATIONS_LEASE_SESSION_TIMEOUT_MS, and the next runner, which waited for it, reads again what
// is applied and finishes 004 from its first statement (each is idempotent). The rollups then
// equal the counts of `events`, and 004 is recorded once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { appliedBy, migrationsServer, type MigrationsServer } from './migrate-lock-helpers.js';

describe('the migrations lock after its holder is killed', () => {
  let s: MigrationsServer;

  beforeAll(async () => {
    // The killed runner's category delete is held until the next runner sends it too.
    s = await migrationsServer({ match: /ALTER TABLE events_daily_by_category DELETE/, count: 2, timeoutMs: 120_000 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('passes to a waiting runner, which finishes the half-applied migration', async () => {
    const session = { MIGRATIONS_LEASE_SESSION_TIMEOUT_MS: '6000' };
    const first = s.runner(session);
    await first.waitFor('holding the migrations lease');
    for (let i = 0; s.http.gated === 0; i++) {
      if (first.child.exitCode !== null || i > 1_200) throw new Error(`the first runner never reached 004's category delete:\n${first.stdout()}\n${first.stderr()}`);
      await sleep(50);
    }
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe(137);
    expect(await s.recorded()).toEqual([{ n: '3', v: '3' }]);

    const next = s.runner(session);
    expect(await next.exited, next.stdout() + next.stderr()).toBe(0);
    // Its join waited for the killed member's session to end (the coordinator waits that long for
    // every member to rejoin), then it held the lock.
    expect(next.logs().map((l) => l.msg)).toContain('holding the migrations lease: this process applies the ClickHouse migrations');
    expect(appliedBy(next)).toEqual(s.pending());
    const after = await s.compare();
    expect(after).toEqual(s.matching(after));
    const n = String(3 + s.pending().length);
    expect(await s.recorded()).toEqual([{ n, v: n }]);
  });
});
