// Log lines with a key twice (`"component":"start",...,"component":"kafkajs"`): JSON.parse keeps
// the last, log shippers keep either. Scans the top-level keys of each JSON line of a log file.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The top-level keys of one JSON object text, in order, duplicates included. */
export function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  let expectKey = false;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(line.slice(i + 1, j));
      expectKey = false;
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

export interface DuplicateKeys {
  lines: number;
  withDuplicates: number;
  sample: string | null;
}

/** Counts the JSON lines of every *.log in `dir` that repeat a top-level key. */
export function duplicateKeyLines(dir: string): DuplicateKeys {
  const out: DuplicateKeys = { lines: 0, withDuplicates: 0, sample: null };
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.log')) continue;
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      out.lines++;
      const keys = topLevelKeys(line);
      if (new Set(keys).size !== keys.length) {
        out.withDuplicates++;
        out.sample ??= `${f}: ${line.slice(0, 300)}`;
      }
    }
  }
  return out;
}
