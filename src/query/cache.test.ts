import { describe, expect, it } from 'vitest';
import { ResponseCache, type CacheOptions } from './cache.js';

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const body = (s: string) => Buffer.from(s);
const make = (o: Partial<CacheOptions> = {}) => new ResponseCache({ maxBytes: 1 << 20, maxEntries: 1000, ttlMs: 0, ...o });

describe('ResponseCache', () => {
  it('keeps a loaded reply and serves it until the user changes', async () => {
    const cache = make();
    expect(cache.get('u', 'k')).toBeUndefined();
    expect(await cache.load('u', 'k', async () => body('v1')).promise).toEqual(body('v1'));
    expect(cache.get('u', 'k')).toEqual(body('v1'));
    cache.invalidate(new Set(['other']));
    expect(cache.get('u', 'k')).toEqual(body('v1'));
    cache.invalidate(new Set(['u']));
    expect(cache.get('u', 'k')).toBeUndefined();
    expect(cache.entries).toBe(0);
    expect(cache.bytes).toBe(0);
    expect(cache.users).toBe(0);
  });

  it('does not keep the answer of a load that started before an invalidation of its user', async () => {
    const cache = make();
    const old = deferred<Buffer>();
    const first = cache.load('u', 'k', () => old.promise);
    await Promise.resolve();
    cache.invalidate(['u']); // the sink confirmed new rows while the query ran
    old.resolve(body('old rows'));
    expect(await first.promise).toEqual(body('old rows')); // the request itself still gets its answer
    expect(cache.get('u', 'k')).toBeUndefined();
    // The next load starts after the change and is kept.
    await cache.load('u', 'k', async () => body('new rows')).promise;
    expect(cache.get('u', 'k')).toEqual(body('new rows'));
  });

  it('coalesces identical loads in flight, but never joins one that started before a change', async () => {
    const cache = make();
    const d1 = deferred<Buffer>();
    let calls = 0;
    const a = cache.load('u', 'k', () => (calls++, d1.promise));
    const b = cache.load('u', 'k', async () => (calls++, body('unused')));
    expect(a.joined).toBe(false);
    expect(b.joined).toBe(true);
    cache.invalidate(['u']);
    const d2 = deferred<Buffer>();
    const c = cache.load('u', 'k', () => (calls++, d2.promise));
    expect(c.joined).toBe(false);
    d1.resolve(body('before'));
    d2.resolve(body('after'));
    expect(await a.promise).toEqual(body('before'));
    expect(await b.promise).toEqual(body('before'));
    expect(await c.promise).toEqual(body('after'));
    expect(calls).toBe(2);
    expect(cache.get('u', 'k')).toEqual(body('after'));
  });

  it('does not keep failures, and a failed load can be retried', async () => {
    const cache = make();
    await expect(cache.load('u', 'k', async () => Promise.reject(new Error('down'))).promise).rejects.toThrow('down');
    expect(cache.get('u', 'k')).toBeUndefined();
    expect(cache.users).toBe(0);
    expect(await cache.load('u', 'k', async () => body('ok')).promise).toEqual(body('ok'));
  });

  it('evicts the least recently used entries to stay within its entry and byte budgets', async () => {
    const evicted: number[] = [];
    const cache = make({ maxEntries: 3, observer: { evicted: (n) => evicted.push(n), invalidated: () => {} } });
    for (const k of ['a', 'b', 'c']) await cache.load('u', k, async () => body(k)).promise;
    cache.get('u', 'a'); // a is now the most recent
    await cache.load('v', 'd', async () => body('d')).promise;
    expect(cache.entries).toBe(3);
    expect(cache.get('u', 'b')).toBeUndefined();
    expect(cache.get('u', 'a')).toEqual(body('a'));
    expect(evicted).toEqual([1]);

    const small = make({ maxBytes: 8 * 1024 });
    const kb = Buffer.alloc(700, 1);
    for (let i = 0; i < 20; i++) await small.load(`u${i}`, 'k', async () => kb).promise;
    expect(small.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(small.entries).toBeGreaterThan(0);
    expect(small.get('u19', 'k')).toEqual(kb);
    expect(small.get('u0', 'k')).toBeUndefined();
  });

  it('serves but does not keep a reply larger than an eighth of the byte budget', async () => {
    const cache = make({ maxBytes: 8 * 1024 });
    const big = Buffer.alloc(2000);
    expect(await cache.load('u', 'k', async () => big).promise).toBe(big);
    expect(cache.entries).toBe(0);
  });

  it('drops entries older than the TTL', async () => {
    let now = 1000;
    const cache = make({ ttlMs: 50, now: () => now });
    await cache.load('u', 'k', async () => body('v')).promise;
    now += 49;
    expect(cache.get('u', 'k')).toEqual(body('v'));
    now += 1;
    expect(cache.get('u', 'k')).toBeUndefined();
    expect(cache.entries).toBe(0);
  });

  it('keeps user and request keys apart even when they could concatenate alike', async () => {
    const cache = make();
    await cache.load('ab', 'c', async () => body('1')).promise;
    expect(cache.get('a', 'bc')).toBeUndefined();
  });
});
