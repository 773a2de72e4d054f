// The repository as committed: no file keeps a merge's conflict markers (one README once did, from a
// merge commit, for a whole day).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MARKER = /^(?:<{7}|>{7})(?: |$)|^={7}$/m;

describe('the repository', () => {
  it('has no merge conflict markers in any tracked text file', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f !== '');
    expect(files.length).toBeGreaterThan(100);
    const marked: string[] = [];
    for (const f of files) {
      if (/\.(png|gif|jpg|gz|ico|woff2?)$/.test(f)) continue;
      let text: string;
      try {
        text = readFileSync(path.join(ROOT, f), 'utf8');
      } catch {
        continue; // removed in the working tree
      }
      if (MARKER.test(text)) marked.push(f);
    }
    expect(marked).toEqual([]);
  });
});
