// TLS settings: both files or neither, each readable, a key pair that loads (its passphrase
// included), TLS ports only with the files and never equal to the plain port; every message names
// its variable. The certificates are made by openssl for the run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig, type Env } from './index.js';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!OPENSSL) console.warn('config/tls.test.ts: SKIPPED, the openssl command is missing (apt-get install openssl): it makes the test certificates');

const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-tls-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** The message of the ConfigError loadConfig throws for `env`. */
function problem(env: Env): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loadConfig accepted it');
}

describe.skipIf(!OPENSSL)('TLS settings', () => {
  beforeAll(() => {
    for (const n of ['a', 'b']) openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.crt`, '-days', '2', '-subj', '/CN=localhost']);
    openssl(['pkey', '-in', 'a.key', '-aes256', '-passout', 'pass:s3cret', '-out', 'a-encrypted.key']);
    writeFileSync(file('garbage.crt'), 'not a certificate\n');
  });

  it('is off when neither file is set, and then refuses the settings that need it', () => {
    expect(loadConfig({}).tls).toEqual({ files: null, ingestPort: null, queryPort: null });
    const msg = problem({ INGEST_TLS_PORT: '8443', QUERY_TLS_PORT: '8444', TLS_KEY_PASSPHRASE: 'x' });
    for (const v of ['INGEST_TLS_PORT', 'QUERY_TLS_PORT', 'TLS_KEY_PASSPHRASE']) expect(msg).toContain(`${v}: needs TLS_CERT_FILE and TLS_KEY_FILE`);
  });

  it('takes a certificate and its key, and the HTTPS ports apart when given', () => {
    const c = loadConfig({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('a.key'), INGEST_TLS_PORT: '8443', QUERY_TLS_PORT: '8444' });
    expect(c.tls).toEqual({ files: { certFile: file('a.crt'), keyFile: file('a.key') }, ingestPort: 8443, queryPort: 8444 });
    expect(loadConfig({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('a-encrypted.key'), TLS_KEY_PASSPHRASE: 's3cret' }).tls.files?.passphrase).toBe('s3cret');
  });

  it('wants both files or neither', () => {
    expect(problem({ TLS_CERT_FILE: file('a.crt') })).toContain('TLS_KEY_FILE: must be set with TLS_CERT_FILE (both or neither)');
    expect(problem({ TLS_KEY_FILE: file('a.key') })).toContain('TLS_CERT_FILE: must be set with TLS_KEY_FILE (both or neither)');
  });

  it('names the file it cannot read', () => {
    expect(problem({ TLS_CERT_FILE: file('missing.crt'), TLS_KEY_FILE: file('a.key') })).toContain(`TLS_CERT_FILE: cannot read ${file('missing.crt')}: ENOENT`);
    expect(problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: dir })).toContain(`TLS_KEY_FILE: cannot read ${dir}: EISDIR`);
  });

  it('refuses a key of another certificate, a file that is no certificate, and a wrong passphrase', () => {
    expect(problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('b.key') })).toMatch(/TLS_KEY_FILE: .*is not the key of the certificate in .*key values mismatch/);
    expect(problem({ TLS_CERT_FILE: file('garbage.crt'), TLS_KEY_FILE: file('a.key') })).toMatch(/TLS_CERT_FILE: .*garbage.crt is not a PEM certificate/);
    expect(problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('a-encrypted.key'), TLS_KEY_PASSPHRASE: 'wrong' })).toMatch(/TLS_KEY_PASSPHRASE: does not decrypt .*a-encrypted.key/);
    expect(problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('a-encrypted.key') })).toMatch(/TLS_KEY_PASSPHRASE: not set, and .*a-encrypted.key is encrypted/);
    expect(problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('garbage.crt') })).toMatch(/TLS_KEY_FILE: .*garbage.crt is not a PEM private key/);
  });

  it('refuses an HTTPS port equal to its HTTP port', () => {
    const msg = problem({ TLS_CERT_FILE: file('a.crt'), TLS_KEY_FILE: file('a.key'), INGEST_TLS_PORT: '8080', QUERY_PORT: '9000', QUERY_TLS_PORT: '9000' });
    expect(msg).toContain('INGEST_TLS_PORT: must differ from INGEST_PORT (8080)');
    expect(msg).toContain('QUERY_TLS_PORT: must differ from QUERY_PORT (9000)');
  });
});
