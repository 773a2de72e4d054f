// The all-in-one's PostHog cookieless secret (INGEST_COOKIELESS_SECRET when unset): kept in its
// data dir, so a visitor's id of the day survives a restart of `trackhouse start` and of its
// ingest child. Readable by its owner only: with it, a day's ids can be recomputed from guessed
// addresses and user agents.
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makePrivateDir } from '../common/privatedir.js';
import { MIN_COOKIELESS_SECRET } from '../config/ingest.js';

export const COOKIELESS_SECRET_FILE = 'cookieless-secret';

/** The secret in `<dataDir>/cookieless-secret`, made (32 random bytes, hex, mode 0600) when missing or too short. */
export function dataDirCookielessSecret(dataDir: string): string {
  const file = path.join(dataDir, COOKIELESS_SECRET_FILE);
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept.length >= MIN_COOKIELESS_SECRET) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('hex');
  makePrivateDir(dataDir);
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  // `mode` applies to a file it creates only: one it replaces keeps its own.
  chmodSync(file, 0o600);
  return secret;
}
