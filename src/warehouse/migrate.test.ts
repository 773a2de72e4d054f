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
      for (const s of m.statements) expect(s).toMatch(/^CREATE (TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS /);
    }
  });
});
