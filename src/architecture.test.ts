// docs/architecture.md's source-tree table says which other src/ folders each folder may import.
// This keeps it true: every import of a folder's code (tests aside) must be in its row, and the
// rows keep the one-way rule (ingest never imports sink or query, sink never query, query never
// ingest or sink).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SRC = path.join(ROOT, 'src');
const FOLDERS = readdirSync(SRC, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

/** folder -> the folders its row allows ('*' for everything). */
function table(): Map<string, Set<string> | '*'> {
  const rows = new Map<string, Set<string> | '*'>();
  const doc = readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8');
  for (const line of doc.split('\n')) {
    const m = /^\| `src\/([a-z]+)\/` \|.*\| ([^|]*) \|$/.exec(line);
    if (!m) continue;
    const cell = m[2]!.trim();
    if (cell === 'everything') rows.set(m[1]!, '*');
    else if (cell === '—') rows.set(m[1]!, new Set());
    else rows.set(m[1]!, new Set(cell.split(',').map((s) => s.trim().split(' ')[0]!)));
  }
  return rows;
}

/** Every other src/ folder the non-test files of `folder` import, with the importing file. */
function imports(folder: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        for (const m of readFileSync(full, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
          const target = path.relative(SRC, path.resolve(path.dirname(full), m[1]!)).split(path.sep)[0]!;
          if (target !== folder && !target.startsWith('..')) out.push({ file: path.relative(SRC, full), target });
        }
      }
    }
  };
  walk(path.join(SRC, folder));
  return out;
}

describe('the source-tree table of docs/architecture.md', () => {
  const rows = table();

  it('has a row for every folder under src/', () => {
    expect([...rows.keys()].sort()).toEqual([...FOLDERS].sort());
  });

  it.each(FOLDERS)('src/%s imports only what its row allows', (folder) => {
    const allowed = rows.get(folder);
    if (allowed === '*') return;
    expect(imports(folder).filter((i) => !allowed?.has(i.target))).toEqual([]);
  });

  it('keeps data flowing one way', () => {
    const banned: Record<string, string[]> = { ingest: ['sink', 'query', 'replay'], sink: ['query', 'replay'], query: ['ingest', 'sink', 'replay'] };
    for (const [folder, never] of Object.entries(banned)) {
      const allowed = rows.get(folder);
      expect(allowed).not.toBe('*');
      for (const n of never) expect((allowed as Set<string>).has(n), `${folder} may import ${n}`).toBe(false);
    }
  });
});
