// What encryption at rest chDB (the development and test engine) offers, checked rather than
// assumed (docs/data-protection.md): a table on an encrypted disk (AES_256_CTR over a local disk,
// declared in CREATE TABLE) works on chDB 3.4 once the engine is started with
// --custom_local_disks_base_directory; its data files are ciphertext; and the key is written in
// plain text into the table's metadata under the data dir, so this protects the data files only
// where the metadata lives apart from them, which is why trackhouse does not use it (the data dir
// belongs on an encrypted volume instead).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Session } from 'chdb';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';

const KEY = '0123456789abcdef0123456789abcdef';
const MARKER = 'PLAINTEXT_MARKER_7c1f';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('chDB encrypted disk', () => {
  const data = tempDir('trackhouse-chdb-enc-');
  const disk = tempDir('trackhouse-chdb-disk-');
  afterAll(() => {
    data.remove();
    disk.remove();
  });

  it('stores a table\'s data files encrypted, but keeps the key in plain text in the table metadata', () => {
    const s = new Session(data.path, { connectionArgs: [`--custom_local_disks_base_directory=${disk.path}/`] });
    try {
      s.query(`CREATE TABLE secret (u String, note String CODEC(NONE)) ENGINE = MergeTree ORDER BY u
        SETTINGS disk = disk(name = 'enc', type = encrypted, disk = disk(name = 'plain', type = local, path = '${disk.path}/'),
                             path = 'secret/', key = '${KEY}', algorithm = 'AES_256_CTR')`);
      s.query(`INSERT INTO secret VALUES ('alice@example.com', '${MARKER}')`);
      expect(s.query('SELECT u, note FROM secret', 'JSONEachRow').toString().trim()).toBe(JSON.stringify({ u: 'alice@example.com', note: MARKER }));
    } finally {
      s.close();
    }
    const encrypted = files(disk.path);
    const bin = encrypted.find((f) => f.endsWith('data.bin'));
    expect(bin).toBeDefined();
    expect(readFileSync(bin!).subarray(0, 3).toString('latin1')).toBe('ENC');
    for (const f of encrypted) expect(readFileSync(f).includes(MARKER), f).toBe(false);
    const metadata = files(data.path).filter((f) => f.endsWith('secret.sql'));
    expect(metadata.some((f) => readFileSync(f, 'utf8').includes(KEY))).toBe(true);
  });
});
