import { describe, expect, it } from 'vitest';
import { loadMigrations, splitStatements } from './migrate.js';

describe('migrations', () => {
  it('splits a file into statements on line-ending semicolons and drops comment lines', () => {
    const sql = `-- header\nCREATE TABLE a (x String DEFAULT ';') ENGINE = Memory;\n\n-- two\nCREATE VIEW b AS SELECT 1;\n`;
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x String DEFAULT ';') ENGINE = Memory", 'CREATE VIEW b AS SELECT 1']);
  });

  it('loads the project migrations in version order, each idempotent', () => {
    const ms = loadMigrations();
    expect(ms.map((m) => m.version)).toEqual([...ms.map((m) => m.version)].sort((a, b) => a - b));
    expect(ms[0]!.version).toBe(1);
    for (const m of ms) {
      m.statements.forEach((s, i) => {
        const where = `${m.version}_${m.name}.sql statement ${i + 1}`;
        // Run again, each leaves what one run leaves: a create that is a no-op once done, a view's
        // query set again, or a delete of rows followed by the insert that puts them back (not
        // deduplicated, or a run again would drop the block as one inserted before).
        // Any number of months (partitions) per insert: a server refuses more than 100 by default.
        const insert = /^INSERT INTO (\w+) SETTINGS insert_deduplicate = 0, insert_deduplication_token = '', max_partitions_per_insert_block = 0\n/.exec(s);
        const del = /^ALTER TABLE (\w+) DELETE WHERE [\s\S]* SETTINGS mutations_sync = 2$/.exec(s);
        if (insert) expect(m.statements[i - 1], where).toMatch(new RegExp(`^ALTER TABLE ${insert[1]} DELETE WHERE `));
        else if (del) expect(m.statements[i + 1], where).toMatch(new RegExp(`^INSERT INTO ${del[1]} SETTINGS insert_deduplicate = 0,`));
        else expect(s, where).toMatch(/^(CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS |ALTER TABLE \w+_mv MODIFY QUERY\n)/);
      });
    }
  });
});
