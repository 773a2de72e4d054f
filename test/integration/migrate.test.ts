import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { chdbPath, loadMigrations, migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { AMENDED } from '../../src/warehouse/migrate.js';
import { capturingLogger } from '../support/log.js';
import { silentLogger } from '../../src/common/log.js';
import { tempDir, testConfig } from '../support/env.js';

describe('trackhouse migrate on chDB', () => {
  const dir = tempDir();
  let ch: ClickHouseHandle | undefined;
  afterAll(async () => {
    await ch?.close();
    dir.remove();
  });

  it('applies every migration once and is a no-op when run again', async () => {
    const cfg = testConfig(dir.path);
    ch = await openClickHouse(cfg.clickhouse, cfg.dataDir);
    const all = loadMigrations().map((m) => m.version);
    expect(await migrate(ch.client, silentLogger())).toEqual({ applied: all, skipped: [] });
    expect(await migrate(ch.client, silentLogger())).toEqual({ applied: [], skipped: all });
    const rs = await ch.client.query({
      query: "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'events%' ORDER BY name",
      format: 'JSONEachRow',
    });
    const names = (await rs.json<{ name: string }>()).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(['events', 'events_daily_by_event', 'events_daily_by_category', 'events_daily_by_group']));
  });

  it('warns about a migration file changed after it was applied, unless it is a listed amendment of it', async () => {
    for (const [version, checksum] of [[4, AMENDED.get(4)![0]!], [3, 'not-its-checksum']] as const) {
      await ch!.client.command({ query: `ALTER TABLE trackhouse_migrations UPDATE checksum = '${checksum}' WHERE version = ${version}`, clickhouse_settings: { mutations_sync: '2' } });
    }
    const { log, lines } = capturingLogger('warn');
    const all = loadMigrations().map((m) => m.version);
    expect(await migrate(ch!.client, log)).toEqual({ applied: [], skipped: all });
    expect(lines.filter((l) => l.msg === 'migration file changed after it was applied; not re-applied').map((l) => l.version)).toEqual([3]);
  });

  it('keeps chDB\'s files in a folder readable by its owner only, even one an earlier version made 0755', async () => {
    // chDB holds one data dir per process: the first one's session ends first.
    await ch?.close();
    ch = undefined;
    const other = tempDir();
    try {
      const cfg = testConfig(other.path);
      const folder = chdbPath(cfg.dataDir);
      mkdirSync(folder);
      chmodSync(folder, 0o755);
      const opened = await openClickHouse(cfg.clickhouse, cfg.dataDir);
      await opened.close();
      expect(statSync(folder).mode & 0o777).toBe(0o700);
    } finally {
      other.remove();
    }
  });
});
