import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { COOKIELESS_SECRET_FILE, dataDirCookielessSecret } from './cookielesssecret.js';

describe('the all-in-one cookieless secret', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dir = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'th-ckl-'));
    dirs.push(d);
    return d;
  };

  it('is made once, readable by its owner only, and the same on every start', () => {
    const d = path.join(dir(), 'data');
    const first = dataDirCookielessSecret(d);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(path.join(d, COOKIELESS_SECRET_FILE)).mode & 0o777).toBe(0o600);
    // The data dir it made too: the folder of every event.
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(dataDirCookielessSecret(d)).toBe(first);
    expect(readFileSync(path.join(d, COOKIELESS_SECRET_FILE), 'utf8').trim()).toBe(first);
  });

  it('replaces a file too short to be a secret, readable by its owner only', () => {
    const d = dir();
    const file = path.join(d, COOKIELESS_SECRET_FILE);
    writeFileSync(file, 'short\n', { mode: 0o644 });
    const secret = dataDirCookielessSecret(d);
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
