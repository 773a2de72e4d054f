// serve(): the same routes over HTTP, HTTPS, or both; uSockets loads an encrypted key with its
// passphrase; a reload with files that do not load keeps the running certificate.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { writeJson } from './http.js';
import { serve } from './serve.js';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!OPENSSL) console.warn('common/serve.test.ts: SKIPPED, the openssl command is missing (apt-get install openssl): it makes the test certificates');

const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

function get(port: number, ca: Buffer): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/x', ca, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, serial }));
    });
    req.on('error', reject);
  });
}

describe.skipIf(!OPENSSL)('serve over TLS', () => {
  beforeAll(() => {
    const r = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-passout', 'pass:s3cret', '-keyout', 'enc.key', '-out', 'enc.crt', '-days', '2', '-subj', '/CN=localhost', '-set_serial', '77'],
      { cwd: dir, encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    expect(readFileSync(file('enc.key'), 'utf8')).toContain('ENCRYPTED');
  });

  it('serves with an encrypted key and its passphrase, and keeps the certificate when a reload cannot load the files', async () => {
    const files = { certFile: file('enc.crt'), keyFile: file('enc.key'), passphrase: 's3cret' };
    const s = await serve({
      host: '127.0.0.1',
      port: 0,
      portVariable: 'QUERY_PORT',
      tls: files,
      tlsPort: null,
      tlsPortVariable: 'QUERY_TLS_PORT',
      routes: (app) => app.get('/x', (res) => writeJson(res, 200, '{"ok":true}')),
    });
    try {
      const ca = readFileSync(file('enc.crt'));
      expect(s.secure).toBe(true);
      expect(await get(s.port, ca)).toEqual({ status: 200, body: '{"ok":true}', serial: '4D' });
      const good = readFileSync(file('enc.key'));
      writeFileSync(file('enc.key'), 'garbage\n');
      await expect(s.reloadTls()).rejects.toBeInstanceOf(ConfigError);
      await expect(s.reloadTls()).rejects.toThrow(/TLS_KEY_FILE/);
      expect(await get(s.port, ca)).toEqual({ status: 200, body: '{"ok":true}', serial: '4D' });
      writeFileSync(file('enc.key'), good);
      await s.reloadTls();
      expect((await get(s.port, ca)).status).toBe(200);
    } finally {
      s.closeAll();
    }
  });
});
