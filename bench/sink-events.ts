// Realistic tracking events for the sink benchmark: Segment-style track/page/identify calls
// with 300-600 bytes of JSON in properties and context, a pool of users (some anonymous), a few
// dozen event names and categories. Deterministic for a given seed, so the direct-insert ceiling
// and the sink see the same kind of rows.
import type { EventRecord } from '../src/schema/index.js';

const EVENTS = ['Product Viewed', 'Product Added', 'Cart Viewed', 'Checkout Started', 'Order Completed', 'Product Searched', 'Signed In', 'Video Played', 'Article Read', 'Coupon Applied', 'Product Removed', 'Payment Info Entered'];
const CATEGORIES = ['shoes', 'outerwear', 'accessories', 'electronics', 'books', 'home', 'beauty', 'toys', 'sports', 'garden'];
const BROWSERS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
];
const LOCALES = ['en-US', 'de-DE', 'fr-FR', 'es-ES', 'ja-JP', 'pt-BR'];

/** xorshift32: fast, seedable, good enough for test data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const hex = (r: () => number, n: number): string => {
  let out = '';
  for (let i = 0; i < n; i++) out += ((r() * 16) | 0).toString(16);
  return out;
};

export function uuidLike(r: () => number): string {
  return `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
}

export interface EventFactory {
  next(): EventRecord;
}

export function eventFactory(seed: number, users = 100_000, now = Date.now()): EventFactory {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[(r() * xs.length) | 0]!;
  return {
    next(): EventRecord {
      const u = (r() * users) | 0;
      const anonymous = u % 10 === 0;
      const category = pick(CATEGORIES);
      const type = r() < 0.8 ? 'track' : r() < 0.7 ? 'page' : 'identify';
      const received = now - ((r() * 3_600_000) | 0);
      const properties =
        type === 'identify'
          ? '{}'
          : JSON.stringify({
              product_id: `sku-${(r() * 50_000) | 0}`,
              name: `${category} item ${(r() * 1000) | 0}`,
              category,
              price: Math.round(r() * 20000) / 100,
              currency: 'USD',
              quantity: 1 + ((r() * 3) | 0),
              url: `https://shop.example.com/${category}/${hex(r, 10)}`,
            });
      const groupId = r() < 0.3 ? `org-${(r() * 500) | 0}` : null;
      const context = JSON.stringify({
        library: { name: 'analytics.js', version: '5.2.1' },
        page: { path: `/${category}`, referrer: 'https://www.google.com/', title: `Shop ${category}` },
        userAgent: pick(BROWSERS),
        ip: `${(r() * 223) | 0}.${(r() * 255) | 0}.${(r() * 255) | 0}.${(r() * 255) | 0}`,
        locale: pick(LOCALES),
        ...(groupId ? { groupId } : {}),
      });
      return {
        event_id: uuidLike(r),
        type,
        event: type === 'track' ? pick(EVENTS) : null,
        user_id: anonymous ? null : `user-${u}`,
        anonymous_id: `anon-${hex(r, 16)}`,
        timestamp: received - ((r() * 2000) | 0),
        sent_at: received - ((r() * 500) | 0),
        received_at: received,
        source: 'web',
        category: type === 'identify' ? null : category,
        group_id: groupId,
        name: type === 'page' ? `Shop ${category}` : null,
        previous_id: null,
        properties,
        traits: type === 'identify' ? JSON.stringify({ email: `user${u}@example.com`, plan: 'pro' }) : '{}',
        context,
      };
    },
  };
}
