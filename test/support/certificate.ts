// A self-signed certificate for 127.0.0.1 (and localhost) and its key, made by the openssl command,
// for tests that give a server TLS_CERT_FILE / TLS_KEY_FILE. tls.test.ts makes a CA of its own.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** Whether the openssl command runs (tests that need a certificate are skipped, saying so, without it). */
export const OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** `<dir>/<name>.crt` and `<dir>/<name>.key`: an EC P-256 certificate valid for two days. */
export function selfSignedCertificate(dir: string, name: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  return { certFile, keyFile };
}
