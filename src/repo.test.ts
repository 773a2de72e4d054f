// The repository as committed: no file keeps a merge's conflict markers (one README once did, from a
// merge commit, for a whole day), and every dependency's install script has been reviewed.
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

  // npm 12 runs a dependency's install script only when package.json's allowScripts allows it (npm
  // 11.16+ warns on each one not listed): a new dependency with a script must be looked at and listed,
  // true where the script is needed (a native build when no prebuilt binary fits), false where not.
  it('lists every dependency with an install script in allowScripts', () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript === true)
      .map(([at]) => at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect(withScripts.filter((name) => !(name in (pkg.allowScripts ?? {})))).toEqual([]);
  });
});
