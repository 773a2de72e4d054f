// TLS certificate files: checked the way OpenSSL will load them, and turned into uWebSockets.js
// SSLApp options. Checked at start (src/config) and again before each reload (SIGHUP), so a bad
// file is an error naming its setting instead of an SSLApp that fails with "App construction
// failed" and no reason.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { AppOptions } from 'uWebSockets.js';
import { ConfigError } from './errors.js';

export interface TlsFiles {
  /** PEM certificate; may hold the whole chain (leaf first, then intermediates). TLS_CERT_FILE */
  readonly certFile: string;
  /** PEM private key of that certificate. TLS_KEY_FILE */
  readonly keyFile: string;
  /** Decrypts an encrypted key. TLS_KEY_PASSPHRASE */
  readonly passphrase?: string;
}

/**
 * What is wrong with the files, each problem as [setting, message], or [] when OpenSSL (through
 * Node's own binding) loads them as a key pair: readable, PEM, the key decrypts and matches the
 * certificate. Each file is checked alone first, so the message names the one at fault.
 */
export function tlsFileProblems(files: TlsFiles): [string, string][] {
  const problems: [string, string][] = [];
  const read = (variable: string, file: string): Buffer | null => {
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push([variable, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
      return null;
    }
  };
  const cert = read('TLS_CERT_FILE', files.certFile);
  const key = read('TLS_KEY_FILE', files.keyFile);
  if (cert !== null) {
    try {
      new X509Certificate(cert);
    } catch (err) {
      problems.push(['TLS_CERT_FILE', `${files.certFile} is not a PEM certificate: ${(err as Error).message}`]);
    }
  }
  if (key !== null) {
    try {
      createPrivateKey({ key, format: 'pem', ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}) });
    } catch (err) {
      const encrypted = key.includes('ENCRYPTED');
      problems.push(
        encrypted
          ? ['TLS_KEY_PASSPHRASE', `${files.passphrase === undefined ? 'not set, and' : 'does not decrypt'} ${files.keyFile}${files.passphrase === undefined ? ' is encrypted' : ''}: ${(err as Error).message}`]
          : ['TLS_KEY_FILE', `${files.keyFile} is not a PEM private key: ${(err as Error).message}`],
      );
    }
  }
  if (problems.length > 0 || cert === null || key === null) return problems;
  try {
    createSecureContext({ cert, key, ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}) });
  } catch (err) {
    problems.push(['TLS_KEY_FILE', `${files.keyFile} is not the key of the certificate in ${files.certFile}: ${(err as Error).message}`]);
  }
  return problems;
}

/** Throws a ConfigError naming each problem of tlsFileProblems(), the first one's setting as its variable. */
export function checkTlsFiles(files: TlsFiles): void {
  const problems = tlsFileProblems(files);
  if (problems.length > 0) throw new ConfigError(problems.map(([v, m]) => `${v}: ${m}`).join('; '), { variable: problems[0]![0] });
}

/** SSLApp's options for the files (uSockets loads the certificate as a chain file). */
export function sslAppOptions(files: TlsFiles): AppOptions {
  return {
    cert_file_name: files.certFile,
    key_file_name: files.keyFile,
    ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}),
  };
}
