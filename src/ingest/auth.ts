// Write keys, as Segment's SDKs send them: the user name of HTTP Basic auth (password empty), or
// a `writeKey` field in the body (analytics.js, sendBeacon); as Jitsu's send them, the header
// `X-Write-Key`.
import { basicCredentials } from '../common/http.js';

export type KeyLookup =
  | { kind: 'none' }
  | { kind: 'ok'; source: string }
  | { kind: 'unknown' };

const NONE: KeyLookup = { kind: 'none' };
const UNKNOWN: KeyLookup = { kind: 'unknown' };

export class WriteKeys {
  /** Exact `Authorization` header values SDKs send for each key -> result, so the usual request skips base64. */
  private readonly byHeader = new Map<string, KeyLookup>();
  private readonly byKey = new Map<string, KeyLookup>();

  constructor(keys: ReadonlyMap<string, string>) {
    for (const [key, source] of keys) {
      const ok: KeyLookup = { kind: 'ok', source };
      this.byKey.set(key, ok);
      this.byHeader.set(`Basic ${Buffer.from(`${key}:`).toString('base64')}`, ok);
      this.byHeader.set(`Basic ${Buffer.from(key).toString('base64')}`, ok);
    }
  }

  /** From the Authorization header ('' when absent). */
  fromHeader(header: string): KeyLookup {
    if (header === '') return NONE;
    const hit = this.byHeader.get(header);
    if (hit !== undefined) return hit;
    const credentials = basicCredentials(header);
    return credentials === null ? UNKNOWN : this.fromBody(credentials.user);
  }

  /**
   * From Jitsu's `X-Write-Key` header ('' when absent): Jitsu keys are `id:secret`, so the value
   * is taken whole when it is a write key, else its part before the first `:` (the secret is not
   * checked, as Basic auth's password is not).
   */
  fromWriteKeyHeader(header: string): KeyLookup {
    if (header === '') return NONE;
    const whole = this.byKey.get(header);
    if (whole !== undefined) return whole;
    const colon = header.indexOf(':');
    return (colon > 0 ? this.byKey.get(header.slice(0, colon)) : undefined) ?? UNKNOWN;
  }

  /** From the body's writeKey field (any JSON value). */
  fromBody(value: unknown): KeyLookup {
    if (value === undefined || value === null || value === '') return NONE;
    if (typeof value !== 'string') return UNKNOWN;
    return this.byKey.get(value) ?? UNKNOWN;
  }
}
