import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFromShard, sendableQuery, shardEventsPath, userSegment } from './forward.js';
import { parseEventsRequest } from './params.js';

const LIMITS = { defaultLimit: 100, maxLimit: 1000 };
const IDS = ['.', '..', '...', 'back\\slash\\', '..\\..\\x', 'a/../b', 'José', 'Jose\u0301', 'a+b@example.com', 'org/42', '100%', 'a%2Fb', 'what?x=1#y', ' lead', 'trail ', '用户', '👩‍💻', 'a\u0000b', '~._-'];

describe('userSegment', () => {
  it('is read back as the same user by the shard', () => {
    for (const id of IDS) expect(parseEventsRequest(userSegment(id), '', LIMITS).userKey, id).toBe(id);
  });

  it('escapes the dots of a dot segment, which a URL parser would resolve away, and only those', () => {
    expect(userSegment('.')).toBe('%2E');
    expect(userSegment('..')).toBe('%2E%2E');
    expect(userSegment('...')).toBe('...');
    expect(userSegment('a.b')).toBe('a.b');
    expect(userSegment('back\\slash')).toBe('back%5Cslash');
  });

  it('takes a lone surrogate as U+FFFD, as the ingest stored it', () => {
    expect(userSegment('x\ud83d')).toBe('x%EF%BF%BD');
  });
});

describe('sendableQuery', () => {
  it('percent-encodes what a request line cannot carry and leaves the rest as sent', () => {
    expect(sendableQuery('limit=2&event=Order%20Completed')).toBe('limit=2&event=Order%20Completed');
    expect(sendableQuery('event=Bücher&from=2026-01-01T00:00:00+01:00')).toBe('event=B%C3%BCcher&from=2026-01-01T00:00:00+01:00');
    expect(sendableQuery('event=用户 😀')).toBe('event=%E7%94%A8%E6%88%B7%20%F0%9F%98%80');
  });
});

describe('getFromShard', () => {
  const seen: string[] = [];
  let server: http.Server;
  let base = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization}`);
      res.writeHead(req.url!.includes('missing') ? 404 : 200, { 'retry-after': '3' }).end(`{"url":${JSON.stringify(req.url)}}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the path byte for byte, dot segments and all, under the base URL\'s own path', async () => {
    for (const id of ['.', '..', 'back\\slash', 'José']) {
      const path = shardEventsPath(id, 'limit=2&event=Bücher');
      const a = await getFromShard(base, path, { authorization: 'Bearer k' }, 5000);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body.toString())).toEqual({ url: path });
      expect(seen.pop()).toBe(`${path} Bearer k`);
    }
    expect(shardEventsPath('..', '')).toBe('/v1/users/%2E%2E/events');
    const prefixed = await getFromShard(`${base}/shard-1/`, '/v1/users/%2E/events', {}, 5000);
    expect(JSON.parse(prefixed.body.toString())).toEqual({ url: '/shard-1/v1/users/%2E/events' });
  });

  it('passes any status on, with its headers', async () => {
    const a = await getFromShard(base, '/missing', {}, 5000);
    expect([a.status, a.headers['retry-after']]).toEqual([404, '3']);
  });

  it('rejects when the replica cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(getFromShard(`http://127.0.0.1:${port}`, '/v1/users/u/events', {}, 5000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
