// Realistic Segment calls, shaped like what @segment/analytics-node sends (~600 bytes of JSON
// each: properties, context with library, ip, user agent, page, locale).
import { randomUUID } from 'node:crypto';

const EVENTS = ['Order Completed', 'Product Viewed', 'Product Added', 'Checkout Started', 'Signed Up', 'Page Scrolled'];
const CATEGORIES = ['shoes', 'books', 'garden', 'toys', 'music'];

export function segmentTrack(i: number): Record<string, unknown> {
  return {
    type: 'track',
    event: EVENTS[i % EVENTS.length],
    userId: `user-${(i * 7919) % 50_000}`,
    messageId: `node-next-${Date.now()}-${randomUUID()}`,
    timestamp: new Date().toISOString(),
    properties: {
      orderId: `ord-${i}`,
      revenue: 42.5 + (i % 100),
      currency: 'EUR',
      category: CATEGORIES[i % CATEGORIES.length],
      sku: `sku-${i % 997}`,
    },
    context: {
      library: { name: '@segment/analytics-node', version: '3.1.0' },
      ip: `203.0.113.${i % 250}`,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      page: { path: '/checkout' },
      locale: 'en-US',
    },
    integrations: {},
    _metadata: { nodeVersion: '20.11.0', jsRuntime: 'node' },
  };
}

/** `count` distinct single-event bodies. */
export function singleBodies(count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify(segmentTrack(i)));
}

/** `count` distinct batch bodies of `size` events each, with a batch-level sentAt. */
export function batchBodies(count: number, size: number): string[] {
  return Array.from({ length: count }, (_, b) =>
    JSON.stringify({ batch: Array.from({ length: size }, (_, i) => segmentTrack(b * size + i)), sentAt: new Date().toISOString() }),
  );
}
