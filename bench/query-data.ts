// Synthetic but realistic events for the query benchmark, written straight as TabSeparated rows in
// the column order of clickhouse/001_events.sql (user_key is MATERIALIZED, so not sent).
//
// Shape of the data set:
// - users follow a Zipf-Mandelbrot law p(rank) ~ 1 / (rank + Q)^S: a few heavy users with
//   thousands of events, a long tail with a handful each (Q flattens the very top so no single
//   user owns a percent of the table);
// - one user in ANON_EVERY never identified: all their events carry only anonymous_id, so their
//   user_key is that id;
// - events arrive in time order over `days` days (chunk i covers the i-th slice of time), as a sink
//   would write them, so each insert lands in one or two monthly partitions;
// - properties + context are ~350-550 bytes of JSON, traits only on identify calls.
//
// Generation is deterministic for a seed, so the load generator can rebuild the user list and
// the same distribution without reading anything back.

import { EVENTS_INSERT_COLUMNS } from '../src/schema/index.js';
import { rng } from '../test/support/rng.js';

/** The columns the generator writes: the sink's insert columns but kafka_topic (the table's default). */
export const EVENT_COLUMNS = EVENTS_INSERT_COLUMNS.filter((c) => c !== 'kafka_topic');

export interface DatasetSpec {
  rows: number;
  users: number;
  days: number;
  /** Exclusive end of the event times (ms since epoch, UTC). */
  endMs: number;
  seed: number;
}

export const ZIPF_Q = 50;
export const ZIPF_S = 1.0;
const ANON_EVERY = 10;

export const TRACK_EVENTS = [
  'Product Viewed',
  'Product Clicked',
  'Product Added',
  'Cart Viewed',
  'Checkout Started',
  'Payment Info Entered',
  'Order Completed',
  'Product Removed',
  'Products Searched',
  'Product List Viewed',
  'Coupon Applied',
  'Signed In',
  'Signed Out',
  'Video Playback Started',
  'Video Playback Completed',
  'Form Submitted',
  'Subscription Started',
  'Subscription Cancelled',
  'Notification Opened',
  'Share Clicked',
] as const;

export const CATEGORIES = [
  'Electronics',
  'Books',
  'Garden',
  'Toys',
  'Clothing',
  'Shoes',
  'Beauty',
  'Sports',
  'Grocery',
  'Home',
  'Music',
  'Games',
] as const;

const SOURCES = ['web', 'ios', 'android'] as const;
const PAGES = ['Home', 'Search', 'Product', 'Cart', 'Checkout', 'Account', 'Help', 'Blog'] as const;
const AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36',
] as const;
const LOCALES = ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP'] as const;

/** mulberry32 (test/support/rng.ts): tiny, fast, good enough for synthetic data. */
export const rng32 = rng;

/** Cumulative distribution over user ranks 0..users-1 (rank 0 is the heaviest user). */
export function zipfCdf(users: number, q = ZIPF_Q, s = ZIPF_S): Float64Array {
  const cdf = new Float64Array(users);
  let sum = 0;
  for (let k = 0; k < users; k++) {
    sum += 1 / Math.pow(k + 1 + q, s);
    cdf[k] = sum;
  }
  for (let k = 0; k < users; k++) cdf[k]! /= sum;
  return cdf;
}

/** Rank drawn from a CDF by binary search. */
export function sampleRank(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const MS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** Seconds.milliseconds, the DateTime64(3) text form; integer formatting is much cheaper than a float's. */
function epoch(ms: number): string {
  return `${Math.floor(ms / 1000)}.${MS3[ms % 1000]}`;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Stable anonymous id of a user rank (a UUID-shaped string). */
export function anonymousIdOf(rank: number): string {
  const r = rng32(rank * 2654435761 + 17);
  const a = hex8(r() * 4294967296);
  const b = hex8(r() * 4294967296);
  const c = hex8(r() * 4294967296);
  const d = hex8(r() * 4294967296);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-a${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

export function isAnonymous(rank: number): boolean {
  return rank % ANON_EVERY === ANON_EVERY - 1;
}

/** user_key of a rank: user_id for identified users, anonymous_id otherwise. */
export function userKeyOf(rank: number): string {
  return isAnonymous(rank) ? anonymousIdOf(rank) : `user-${rank}`;
}

function groupOf(rank: number): string {
  // A third of the users belong to one of 2,000 organisations.
  return rank % 3 === 0 ? `org-${(rank * 7919) % 2000}` : '';
}

/**
 * Produces TabSeparated chunks of events in time order. Strings are built with template literals
 * from fixed parts: none of them contains a tab, newline or backslash, so no TSV escaping is
 * needed (asserted by the unit test of this generator via a round trip through ClickHouse in
 * the bench seed's own count check).
 */
export class EventGenerator {
  private readonly rand: () => number;
  private readonly cdf: Float64Array;
  private readonly startMs: number;
  private readonly anonIds = new Map<number, string>();
  private produced = 0;

  constructor(private readonly spec: DatasetSpec) {
    this.rand = rng32(spec.seed);
    this.cdf = zipfCdf(spec.users);
    this.startMs = spec.endMs - spec.days * 86_400_000;
  }

  get done(): boolean {
    return this.produced >= this.spec.rows;
  }

  /**
   * Next `n` rows (fewer at the end) as TSV bytes, newest rows last. Each row is written into one
   * buffer as soon as it is built: keeping 100k concatenated strings alive until a join made the
   * garbage collector the main cost of seeding.
   */
  nextChunk(n: number): { bytes: Buffer; rows: number } {
    const rows = Math.min(n, this.spec.rows - this.produced);
    const span = this.spec.endMs - this.startMs;
    const t0 = this.startMs + (span * this.produced) / this.spec.rows;
    const step = span / this.spec.rows;
    const r = this.rand;
    let buf = Buffer.allocUnsafe(rows * 1024);
    let off = 0;
    for (let j = 0; j < rows; j++) {
      const i = this.produced + j;
      const ts = Math.floor(t0 + (j + r()) * step);
      const rank = sampleRank(this.cdf, r());
      const anon = this.anonId(rank);
      const userId = isAnonymous(rank) ? '' : `user-${rank}`;
      const x = r();
      let type: string;
      let event = '';
      let name = '';
      let previousId = '';
      let category = '';
      let traits = '';
      let properties: string;
      const product = Math.floor(r() * 50_000);
      if (x < 0.8) {
        type = 'track';
        event = TRACK_EVENTS[Math.floor(r() * r() * TRACK_EVENTS.length)]!;
        if (r() < 0.6) category = CATEGORIES[Math.floor(r() * CATEGORIES.length)]!;
        properties =
          `{${category ? `"category":"${category}",` : ''}"product_id":"prod-${product}","sku":"SKU-${product}-M",` +
          `"name":"Product ${product}","price":${product % 500}.99,"currency":"USD","quantity":${1 + (product % 3)},` +
          `"position":${product % 24},"url":"https://shop.example.com/p/${product}","brand":"Brand ${product % 97}"}`;
      } else if (x < 0.9) {
        type = 'page';
        name = PAGES[product % PAGES.length]!;
        properties = `{"path":"/${name.toLowerCase()}/${product}","url":"https://shop.example.com/${name.toLowerCase()}/${product}","title":"${name} - Example Shop","referrer":"https://www.google.com/"}`;
      } else if (x < 0.95) {
        type = 'identify';
        properties = '{}';
        traits = `{"email":"${userId || 'anon'}@example.com","name":"User ${rank}","plan":"${rank % 5 === 0 ? 'pro' : 'free'}","created_at":"2025-0${1 + (rank % 9)}-1${rank % 10}T10:00:00.000Z"}`;
      } else if (x < 0.98) {
        type = 'screen';
        name = PAGES[product % PAGES.length]!;
        properties = `{"screen_class":"${name}ViewController","orientation":"portrait"}`;
      } else if (x < 0.99) {
        type = 'group';
        properties = '{}';
        traits = `{"name":"Organisation ${rank % 2000}","industry":"Retail","employees":${10 + (rank % 900)}}`;
      } else {
        type = 'alias';
        previousId = anon;
        properties = '{}';
      }
      const group = type === 'group' ? `org-${rank % 2000}` : groupOf(rank);
      const source = SOURCES[rank % 3]!;
      const ctx =
        `{"library":{"name":"${source === 'web' ? 'analytics.js' : `analytics-${source}`}","version":"4.${rank % 10}.0"},` +
        `"ip":"203.0.${rank % 256}.${product % 256}","locale":"${LOCALES[rank % LOCALES.length]}",` +
        `"userAgent":"${AGENTS[rank % AGENTS.length]}",` +
        `"page":{"path":"/p/${product}","url":"https://shop.example.com/p/${product}"}${group ? `,"groupId":"${group}"` : ''}}`;
      const sentAt = ts + 40 + (i % 200);
      const receivedAt = sentAt + 15 + (i % 30);
      const line =
        `${this.eventId(i)}\t${type}\t${event}\t${userId}\t${anon}\t${epoch(ts)}\t${epoch(sentAt)}\t${epoch(receivedAt)}\t` +
        `${source}\t${category}\t${group}\t${name}\t${previousId}\t${properties}\t${traits}\t${ctx}\t${i % 6}\t${i}\n`;
      if (off + line.length > buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, off);
        buf = bigger;
      }
      off += buf.write(line, off, "latin1");
    }
    this.produced += rows;
    return { bytes: buf.subarray(0, off), rows };
  }

  private anonId(rank: number): string {
    let id = this.anonIds.get(rank);
    if (id === undefined) {
      id = anonymousIdOf(rank);
      this.anonIds.set(rank, id);
    }
    return id;
  }

  private eventId(i: number): string {
    // Unique per row and UUID-shaped; the seed keeps runs with different seeds apart.
    const a = hex8(Math.imul(i, 2654435761) ^ this.spec.seed);
    const b = hex8(i);
    return `${a}-${b.slice(0, 4)}-${b.slice(4)}-8${hex8(this.spec.seed).slice(0, 3)}-${hex8(i * 40503)}${a.slice(0, 4)}`;
  }
}

const nul = (s: string) => (s === '' ? null : s);
const epochMs = (s: string) => {
  const dot = s.indexOf('.');
  return Number(s.slice(0, dot)) * 1000 + Number(s.slice(dot + 1));
};

/**
 * The events of a generator chunk as Kafka records carry them (EventRecord), so the topic and the
 * seeded ClickHouse table hold the same events. The generator writes no TSV escapes, so a row
 * splits on tabs as it is.
 */
export function recordsOf(bytes: Buffer): import('../src/schema/index.js').EventRecord[] {
  const out: import('../src/schema/index.js').EventRecord[] = [];
  const text = bytes.toString('latin1');
  for (let start = 0; start < text.length; ) {
    const end = text.indexOf('\n', start);
    const f = text.slice(start, end).split('\t');
    start = end + 1;
    out.push({
      event_id: f[0]!,
      type: f[1] as never,
      event: nul(f[2]!),
      user_id: nul(f[3]!),
      anonymous_id: nul(f[4]!),
      timestamp: epochMs(f[5]!),
      sent_at: epochMs(f[6]!),
      received_at: epochMs(f[7]!),
      source: f[8]!,
      category: nul(f[9]!),
      group_id: nul(f[10]!),
      name: nul(f[11]!),
      previous_id: nul(f[12]!),
      properties: f[13]!,
      traits: f[14]!,
      context: f[15]!,
    });
  }
  return out;
}
