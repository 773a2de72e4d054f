// Folders of personal data readable by their owner only: made 0700, and trackhouse's own folders
// tightened when an earlier version made them 0755; a folder that is not its own keeps its mode.
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';
import { makeOwnPrivateDir, makePrivateDir, octal } from './privatedir.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));
const fresh = () => {
  const d = tempDir('trackhouse-private-');
  dirs.push(d);
  return d.path;
};
const modeOf = (dir: string) => octal(statSync(dir).mode);

it('makes a folder and each missing parent readable by the owner only', () => {
  const root = fresh();
  makePrivateDir(path.join(root, 'a', 'b', 'c'));
  expect([modeOf(path.join(root, 'a')), modeOf(path.join(root, 'a', 'b')), modeOf(path.join(root, 'a', 'b', 'c'))]).toEqual(['0700', '0700', '0700']);
});

it('leaves an existing folder that is not its own as it is', () => {
  const dir = path.join(fresh(), 'operators');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  makePrivateDir(dir);
  expect(modeOf(dir)).toBe('0755');
});

it('takes group and other bits off its own folder that an earlier version made 0755, and says what it was', () => {
  const dir = path.join(fresh(), 'view');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  expect(makeOwnPrivateDir(dir)).toBe(0o755);
  expect(modeOf(dir)).toBe('0700');
  expect(makeOwnPrivateDir(dir)).toBeNull();
  expect(makeOwnPrivateDir(path.join(dir, 'new'))).toBeNull();
  expect(modeOf(path.join(dir, 'new'))).toBe('0700');
});
