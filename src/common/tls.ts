// TLS certificate files: checked the way OpenSSL will load them, and turned into uWebSockets.js
// SSLApp options. Checked at start (src/config) and again before each reload (SIGHUP), so a bad
// file is an error naming its setting instead of an SSLApp that fails with "App construction
// failed" and no reason.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { AppOptions } from 'uWebSockets.js';

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
 * Node's own binding) loads them as a key pair: readable, PEM, the key decrypts and matches.
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
  if (cert === null || key === null) return problems;
  try {
    createSecureContext({ cert, key, ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}) });
  } catch (err) {
    problems.push([whichFile(err as Error), `${files.certFile} and ${files.keyFile} are not a usable certificate and key: ${(err as Error).message}`]);
  }
  return problems;
}

/** The setting an OpenSSL load error points at, for the message. */
function whichFile(err: Error): string {
  const m = err.message.toLowerCase();
  if (m.includes('bad decrypt') || m.includes('passphrase') || m.includes('password')) return 'TLS_KEY_PASSPHRASE';
  if (m.includes('key values mismatch') || m.includes('private key') || m.includes('key')) return 'TLS_KEY_FILE';
  return 'TLS_CERT_FILE';
}

/** SSLApp's options for the files (uSockets loads the certificate as a chain file). */
export function sslAppOptions(files: TlsFiles): AppOptions {
  return {
    cert_file_name: files.certFile,
    key_file_name: files.keyFile,
    ...(files.passphrase !== undefined ? { passphrase: files.passphrase } : {}),
  };
}
