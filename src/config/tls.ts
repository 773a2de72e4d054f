import { z } from 'zod';
import { tlsFileProblems } from '../common/tls.js';
import { optionalInt, optionalStr } from './parse.js';

const optionalPort = () => optionalInt(0, 65535);
const plainPort = (fallback: number) =>
  z
    .string()
    .optional()
    .catch(undefined)
    .transform((v) => (v !== undefined && v.trim() !== '' ? Number(v) : fallback));

/**
 * TLS in transit for the ingest edge and the query API. TLS_CERT_FILE and TLS_KEY_FILE (both or
 * neither) turn it on: INGEST_PORT and QUERY_PORT speak HTTPS, unless INGEST_TLS_PORT /
 * QUERY_TLS_PORT give HTTPS a port of its own, and then the plain port stays HTTP. The files are
 * loaded as OpenSSL will load them, so a mismatched key or a wrong passphrase stops the start.
 */
export const tlsSchema = z
  .object({
    TLS_CERT_FILE: optionalStr(),
    TLS_KEY_FILE: optionalStr(),
    TLS_KEY_PASSPHRASE: optionalStr(),
    INGEST_TLS_PORT: optionalPort(),
    QUERY_TLS_PORT: optionalPort(),
    // Read here too, leniently (the http section validates them), to refuse a TLS port equal to its plain port.
    INGEST_PORT: plainPort(8080),
    QUERY_PORT: plainPort(8081),
  })
  .superRefine((e, ctx) => {
    const problem = (variable: string, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
    const cert = e.TLS_CERT_FILE;
    const key = e.TLS_KEY_FILE;
    if (cert === undefined && key === undefined) {
      for (const v of ['TLS_KEY_PASSPHRASE', 'INGEST_TLS_PORT', 'QUERY_TLS_PORT'] as const) {
        if (e[v] !== undefined) problem(v, 'needs TLS_CERT_FILE and TLS_KEY_FILE');
      }
      return;
    }
    for (const [tlsPort, plain] of [
      ['INGEST_TLS_PORT', 'INGEST_PORT'],
      ['QUERY_TLS_PORT', 'QUERY_PORT'],
    ] as const) {
      if (e[tlsPort] !== undefined && e[tlsPort] !== 0 && e[tlsPort] === e[plain]) problem(tlsPort, `must differ from ${plain} (${e[plain]}): HTTP and HTTPS need a port each`);
    }
    if (cert === undefined || key === undefined) {
      problem(cert === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE', `must be set with ${cert === undefined ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'} (both or neither)`);
      return;
    }
    for (const [variable, message] of tlsFileProblems({ certFile: cert, keyFile: key, ...(e.TLS_KEY_PASSPHRASE !== undefined ? { passphrase: e.TLS_KEY_PASSPHRASE } : {}) })) {
      problem(variable, message);
    }
  })
  .transform((e) => ({
    /** The certificate files, or null: plain HTTP only. */
    files:
      e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined
        ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, ...(e.TLS_KEY_PASSPHRASE !== undefined ? { passphrase: e.TLS_KEY_PASSPHRASE } : {}) }
        : null,
    /** HTTPS port of the ingest edge when apart from INGEST_PORT; null: INGEST_PORT speaks HTTPS. */
    ingestPort: e.INGEST_TLS_PORT ?? null,
    /** HTTPS port of the query API when apart from QUERY_PORT; null: QUERY_PORT speaks HTTPS. */
    queryPort: e.QUERY_TLS_PORT ?? null,
  }));

export type TlsConfig = z.output<typeof tlsSchema>;
