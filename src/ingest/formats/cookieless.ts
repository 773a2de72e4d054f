// PostHog's cookieless mode: posthog-js with `cookieless_mode` ('always', or 'on_reject' once a
// visitor rejects cookies) keeps no id in the browser and sends `distinct_id: "$posthog_cookieless"`
// for every visitor. PostHog's server puts a per-visitor, per-day id in its place, a keyed hash of
// the project, the client's IP, the site's root domain and the user agent (plus `$cookieless_extra`)
// under a secret salt of the day (PostHog's nodejs/src/ingestion/common/cookieless/cookieless-manager.ts).
// This is trackhouse's: the same inputs, HMAC-SHA256 under a salt derived for each UTC day from a
// secret (INGEST_COOKIELESS_SECRET) that every ingest thread and process shares, so a visitor gets
// one id for the day wherever the request lands, and nobody without the secret can link the id
// back to an address (the write key, in every page, is no secret, so it is never the salt).
import { createHmac, randomBytes } from 'node:crypto';

/** posthog-js's distinct_id in cookieless mode (its constants.ts COOKIELESS_SENTINEL_VALUE). */
export const COOKIELESS_SENTINEL = '$posthog_cookieless';

/** What posthogEvent leaves on a call whose id is the sentinel: the edge gives it its id. */
export const COOKIELESS = Symbol('cookieless');

/** The hash's inputs an event carries (the request gives the project, and the IP when the event has none). */
export interface CookielessInput {
  /** `$ip` of the event (a server SDK's), else undefined: the caller's address is used. */
  ip: string | undefined;
  /** `$host` (posthog-js: location.host), its root domain hashed. */
  host: string;
  /** `$raw_user_agent`. */
  userAgent: string;
  /** `$cookieless_extra`, the site's own addition for visitors behind one IP (first 100 characters, as PostHog). */
  extra: string;
}

const DAY_MS = 86_400_000;
/** PostHog's prefix ("so that we can recognise one of these in the wild"). */
const PREFIX = 'cookieless_';

/** A random secret for a process started without INGEST_COOKIELESS_SECRET. */
export function randomCookielessSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The root domain of a host as posthog-js sends `$host` (`www.shop.example.com:8443`): its last two
 * labels and the port, lower-cased, so a site's subdomains give a visitor one id. PostHog uses the
 * public suffix list (tldts) for this; two labels are wrong only under a multi-label suffix
 * (`example.co.uk` -> `co.uk`), which then merely adds nothing to the hash. IP hosts stay whole.
 */
export function rootDomain(host: string): string {
  let h = host.trim().toLowerCase();
  const scheme = h.indexOf('://');
  if (scheme >= 0) h = h.slice(scheme + 3);
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  if (h.startsWith('[')) return h; // an IPv6 literal, with its port if any
  const colon = h.indexOf(':');
  const name = colon >= 0 ? h.slice(0, colon) : h;
  const port = colon >= 0 ? h.slice(colon) : '';
  if (/^[\d.]+$/.test(name)) return h;
  const parts = name.split('.');
  const root = parts.length > 2 ? parts.slice(-2).join('.') : name;
  return (root === 'localhost' ? '127.0.0.1' : root) + port;
}

/**
 * Cookieless ids for one edge thread: the day's salt is kept until the UTC day changes (one HMAC
 * a day), then each id is one HMAC. The salt of a past day is dropped; it can be derived again
 * only with the secret.
 */
export class CookielessIds {
  private readonly secret: Buffer;
  private day = -1;
  private salt: Buffer = Buffer.alloc(0);

  constructor(secret: string) {
    this.secret = Buffer.from(secret, 'utf8');
  }

  /** The salt of the UTC day of `ms`: HMAC-SHA256(secret, "trackhouse cookieless salt YYYY-MM-DD"). */
  private saltOf(ms: number): Buffer {
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.day) {
      const date = new Date(day * DAY_MS).toISOString().slice(0, 10);
      this.salt = createHmac('sha256', this.secret).update(`trackhouse cookieless salt ${date}`).digest();
      this.day = day;
    }
    return this.salt;
  }

  /**
   * The anonymous id of a visitor of `project` (the write key's source) on the UTC day of `nowMs`:
   * `cookieless_` + 22 characters (128 bits of HMAC-SHA256, base64url, so it stands in a URL path
   * as the query API's `/v1/users/{id}/events` takes it). Fields are joined by NUL, which none holds
   * after JSON decoding in practice, so no two inputs run together.
   */
  id(nowMs: number, project: string, ip: string, input: CookielessInput): string {
    const h = createHmac('sha256', this.saltOf(nowMs));
    h.update(`${project}\0${ip}\0${rootDomain(input.host)}\0${input.userAgent}\0${input.extra.slice(0, 100)}`);
    return PREFIX + h.digest().subarray(0, 16).toString('base64url');
  }
}

/**
 * The hash's inputs of a cookieless event's properties `p`, taken out of them: PostHog stores
 * none of `$ip`, `$raw_user_agent` and `$cookieless_extra` of such an event ("they should not be
 * written to disk if explicit consent was not given", stripPIIProperties), nor its address.
 */
export function takeCookielessInput(p: Record<string, unknown>): CookielessInput {
  const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '');
  const ip = text(p.$ip);
  const input: CookielessInput = { ip: ip === '' ? undefined : ip, host: text(p.$host), userAgent: text(p.$raw_user_agent), extra: text(p.$cookieless_extra) };
  delete p.$ip;
  delete p.$raw_user_agent;
  delete p.$cookieless_extra;
  return input;
}
