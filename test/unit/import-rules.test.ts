// Data flows one way (docs/architecture.md): ingest, sink and query never import each other
// (sink may not import query, query neither ingest nor sink), and what they share lives in
// src/common/, which imports no stage at all.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Every `src/<folder>` a file of `folder` imports, with the importing file. */
function importsOf(folder: string): { file: string; target: string }[] {
  const out: { file: string; target: string }[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(full, 'utf8');
        for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
          const resolved = path.relative(SRC, path.resolve(path.dirname(full), m[1]!));
          const target = resolved.split(path.sep)[0]!;
          if (target !== folder && !target.startsWith('..')) out.push({ file: path.relative(SRC, full), target });
        }
      }
    }
  };
  walk(path.join(SRC, folder));
  return out;
}

const forbidden: Record<string, string[]> = {
  ingest: ['sink', 'query', 'cli'],
  sink: ['ingest', 'query', 'cli'],
  query: ['ingest', 'sink', 'cli'],
  common: ['ingest', 'sink', 'query', 'cli', 'kafka', 'clickhouse', 'schema', 'localkafka'],
};

describe('import rules', () => {
  it.each(Object.entries(forbidden))('src/%s imports none of %j', (folder, banned) => {
    expect(importsOf(folder).length).toBeGreaterThanOrEqual(folder === 'common' ? 0 : 1);
    expect(importsOf(folder).filter((i) => banned.includes(i.target))).toEqual([]);
  });
});
