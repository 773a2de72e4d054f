import { describe, expect, it } from 'vitest';
import { COOKIELESS, COOKIELESS_SENTINEL, CookielessIds, rootDomain, type CookielessInput } from './cookieless.js';
import { readPosthogJson, translatePosthog, type CookielessCall } from './posthog.js';

const SECRET = 'x'.repeat(32);
const DAY = Date.UTC(2026, 11, 5, 12, 0, 0);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const input = (o: Partial<CookielessInput> = {}): CookielessInput => ({ ip: undefined, host: 'www.example.com', userAgent: CHROME, extra: '', ...o });

describe('cookieless ids', () => {
  const ids = new CookielessIds(SECRET);
  const base = ids.id(DAY, 'web', '203.0.113.9', input());

  it('gives one visitor one anonymous id all UTC day, on any thread or process with the same secret', () => {
    expect(base).toMatch(/^cookieless_[A-Za-z0-9_-]{22}$/);
    expect(ids.id(Date.UTC(2026, 11, 5, 0, 0, 0), 'web', '203.0.113.9', input())).toBe(base);
    expect(ids.id(Date.UTC(2026, 11, 5, 23, 59, 59, 999), 'web', '203.0.113.9', input())).toBe(base);
    expect(new CookielessIds(SECRET).id(DAY, 'web', '203.0.113.9', input())).toBe(base);
    // a subdomain of the same site: PostHog hashes the root domain
    expect(ids.id(DAY, 'web', '203.0.113.9', input({ host: 'shop.example.com' }))).toBe(base);
  });

  it('gives another id for another address, user agent, day, source, site, extra or secret', () => {
    const others = [
      ids.id(DAY, 'web', '203.0.113.10', input()),
      ids.id(DAY, 'web', '203.0.113.9', input({ userAgent: CHROME.replace('131', '130') })),
      ids.id(DAY + 86_400_000, 'web', '203.0.113.9', input()),
      ids.id(Date.UTC(2026, 11, 4, 23, 59, 59, 999), 'web', '203.0.113.9', input()),
      ids.id(DAY, 'app', '203.0.113.9', input()),
      ids.id(DAY, 'web', '203.0.113.9', input({ host: 'example.org' })),
      ids.id(DAY, 'web', '203.0.113.9', input({ extra: 'desk 4' })),
      new CookielessIds('y'.repeat(32)).id(DAY, 'web', '203.0.113.9', input()),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
  });

  it('reads the root domain of $host as PostHog does for common hosts', () => {
    expect(rootDomain('www.Example.com')).toBe('example.com');
    expect(rootDomain('a.b.example.com:8443')).toBe('example.com:8443');
    expect(rootDomain('localhost:3000')).toBe('127.0.0.1:3000');
    expect(rootDomain('127.0.0.1:8080')).toBe('127.0.0.1:8080');
    expect(rootDomain('[::1]:8080')).toBe('[::1]:8080');
    expect(rootDomain('')).toBe('');
  });
});

describe('translatePosthog of cookieless events', () => {
  const event = (o: Record<string, unknown> = {}) => ({
    event: 'signup',
    uuid: '0190a8b2-0000-7000-8000-000000000001',
    properties: { distinct_id: COOKIELESS_SENTINEL, $cookieless_mode: true, $device_id: null, token: 'k', $host: 'www.example.com', $raw_user_agent: CHROME, $ip: '198.51.100.7', $cookieless_extra: 'desk 4', plan: 'pro', ...o },
  });
  const opts = { receivedAt: DAY, skew: true, prepared: true };

  for (const [how, body] of [
    ['as the edge reads it', (v: unknown) => readPosthogJson(JSON.stringify(v)) ?? v],
    ['as objects', (v: unknown) => v],
  ] as const) {
    it(`marks the call with the hash inputs and keeps none of them (${how})`, () => {
      const t = translatePosthog(body([event(), event({ distinct_id: 'user-1', $ip: undefined })]), opts);
      expect(t.cookieless).toBe(true);
      const call = t.calls[0] as CookielessCall;
      expect(call[COOKIELESS]).toEqual({ ip: '198.51.100.7', host: 'www.example.com', userAgent: CHROME, extra: 'desk 4' });
      expect(call.anonymousId).toBe(COOKIELESS_SENTINEL);
      expect(call.userId).toBeUndefined();
      const props = JSON.parse(typeof call.properties === 'string' ? call.properties : JSON.stringify(call.properties)) as Record<string, unknown>;
      expect(props).toMatchObject({ plan: 'pro', $host: 'www.example.com' });
      for (const k of ['$ip', '$raw_user_agent', '$cookieless_extra', 'token']) expect(props).not.toHaveProperty(k);
      const ctx = JSON.parse(JSON.stringify(call.context)) as Record<string, unknown>;
      expect(ctx).not.toHaveProperty('ip');
      expect(ctx).not.toHaveProperty('userAgent');
      // an identified user's event is not cookieless
      expect((t.calls[1] as CookielessCall)[COOKIELESS]).toBeUndefined();
      expect((t.calls[1] as CookielessCall).userId).toBe('user-1');
    });
  }

  it("marks $identify whose $anon_distinct_id is the sentinel: its anonymousId becomes the visitor's id", () => {
    const t = translatePosthog([event({ distinct_id: 'user-1', $anon_distinct_id: COOKIELESS_SENTINEL })].map((e) => ({ ...e, event: '$identify' })), opts);
    const call = t.calls[0] as CookielessCall;
    expect(t.cookieless).toBe(true);
    expect(call).toMatchObject({ type: 'identify', userId: 'user-1', anonymousId: COOKIELESS_SENTINEL });
    expect(call[COOKIELESS]).toBeDefined();
  });

  it('leaves other requests unmarked', () => {
    const t = translatePosthog([event({ distinct_id: 'anon-1', $device_id: 'anon-1' })], opts);
    expect(t.cookieless).toBeUndefined();
    expect((t.calls[0] as CookielessCall)[COOKIELESS]).toBeUndefined();
  });
});
