// Several processes apply the migrations at the same moment against one ClickHouse server (chDB
// served over ClickHouse's HTTP interface stands in for it), as on a first install or a release:
// the Kubernetes migrate Job and every sink replica start together. Migration 004 rebuilds rollup
// rows (a delete, then an insert from `events`); three runners interleaved counted them three
// times. Under the migrations lock (a Kafka lease) one runner applies them, the others wait and
// find nothing left, and the rollups equal the counts of `events`. A runner that cannot get the
// lock within MIGRATIONS_WAIT_TIMEOUT_MS gives up, naming the setting, and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import { createKafka, createLease, ensureLeaseTopic } from '../../src/kafka/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { appliedBy, migrationsServer, type MigrationsServer } from './migrate-lock-helpers.js';

describe('migrations run by several processes at once', () => {
  let s: MigrationsServer;

  beforeAll(async () => {
    // Runners that start apart by more than a statement's time ran 004 one after the other by
    // chance: its first delete is held until all three runners send it (or 5 s pass, as when
    // only one runner at a time gets there).
    s = await migrationsServer({ match: /ALTER TABLE events_daily_by_event DELETE/, count: 3, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('a runner that waits longer than MIGRATIONS_WAIT_TIMEOUT_MS gives up, naming it, and changes nothing', async () => {
    const dir = tempDir();
    const cfg = testConfig(dir.path, s.lockEnv);
    const kafka = createKafka(cfg.kafka, silentLogger());
    await ensureLeaseTopic(kafka, cfg.clickhouse.migrations.leaseTopic, cfg.kafka.replicationFactor);
    // Another process holds the lock (a runner in a long migration).
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    const other = createLease(kafka, {
      topic: cfg.clickhouse.migrations.leaseTopic,
      groupId: cfg.clickhouse.migrations.leaseGroup,
      sessionTimeoutMs: 10_000,
      log: silentLogger(),
      name: 'migrations',
      holderDoes: 'the test holds it',
      sticky: true,
      onChange: (leader) => leader && holding(),
    });
    await other.start();
    try {
      await held;
      const cli = s.runner({ MIGRATIONS_WAIT_TIMEOUT_MS: '3000' });
      expect(await cli.exited).toBe(2);
      expect(cli.logs().map((l) => l.msg)).toContain("waiting for another process's migrations: it holds the migrations lease");
      expect(cli.stderr()).toMatch(/^trackhouse: waited 3000 ms \(MIGRATIONS_WAIT_TIMEOUT_MS\) for another process's ClickHouse migrations/m);
      expect(cli.stderr()).toContain(`consumer group ${s.lockEnv.MIGRATIONS_LEASE_GROUP}`);
      expect(await s.recorded()).toEqual([{ n: '3', v: '3' }]);
    } finally {
      await other.stop();
      dir.remove();
    }
  });

  it('three runners at once: one applies what is missing, the others find nothing left, rollups equal the counts of events', async () => {
    const before = await s.compare();
    // 002's views put the out-of-range events on wrapped days: what 004 repairs.
    expect(before).not.toEqual(s.matching(before));

    const runners = [s.runner(), s.runner(), s.runner()];
    const codes = await Promise.all(runners.map((r) => r.exited));
    expect(codes, runners.map((r) => r.stdout() + r.stderr()).join('\n')).toEqual([0, 0, 0]);
    // [day, key, rollup's events, events' count]: the two equal on every row.
    const after = await s.compare();
    expect(after).toEqual(s.matching(after));
    // Each missing migration applied by exactly one runner, and recorded once.
    expect(runners.flatMap(appliedBy).sort((a, b) => a - b)).toEqual(s.pending());
    const n = String(3 + s.pending().length);
    expect(await s.recorded()).toEqual([{ n, v: n }]);
  });
});
