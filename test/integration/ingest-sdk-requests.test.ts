// The requests Segment's other official clients really send, byte for byte as captured from
// segment-analytics-python 2.4, analytics-go 3.3, analytics-java 3.5 and analytics-next 1.84 in
// headless Chromium (paths, headers, encodings, body shapes, quirks), each delivered whole: the
// event id is the messageId, times are corrected for skew, batch-level context is merged, and
// browsers get their CORS answers. The SDKs themselves are not dependencies; these fixtures are
// what they put on the wire (the README lists each client and what it sends).
import http from 'node:http';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/schema/index.js';
import { startTestIngest, TopicReader, WRITE_KEY, type TestIngest } from './ingest-support.js';

let ingest: TestIngest;
let reader: TopicReader;

beforeAll(async () => {
  ingest = await startTestIngest();
  reader = await new TopicReader(ingest.kafka, [ingest.config.kafka.topics.events]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (fetch would add and normalize some). */
function send(method: string, path: string, headers: Record<string, string>, body?: Buffer | string, port = ingest.handle.port): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const basic = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

async function landed(prefix: string, count: number): Promise<Map<string, EventRecord & { key: string | null }>> {
  const got = await reader.events(ingest.config.kafka.topics.events, prefix, count);
  return new Map(got.map((e) => [e.event_id, e]));
}

/** The client's own timestamp, recovered from the corrected one: Segment's skew rule, exactly. */
function clientTime(e: EventRecord): number {
  return e.timestamp - e.received_at + e.sent_at!;
}

it('segment-analytics-python: /v1/batch, Basic auth and writeKey in the body, gzip or not, times with microseconds and +00:00', async () => {
  const body = (id: string) =>
    JSON.stringify({
      batch: [
        {
          integrations: {},
          anonymousId: null,
          properties: { category: 'books', total: 12.5, emoji: '\u{1F600}' },
          timestamp: '2026-11-20T10:00:00+00:00',
          context: { library: { name: 'analytics-python', version: '2.4.0' } },
          userId: 'py-user',
          type: 'track',
          event: 'Order Completed',
          messageId: `${id}-track`,
        },
        {
          integrations: {},
          previousId: 'anon-py-user',
          timestamp: '2026-11-20T10:00:01.258+00:00',
          context: { library: { name: 'analytics-python', version: '2.4.0' } },
          userId: 'py-user',
          type: 'alias',
          messageId: `${id}-alias`,
          anonymousId: null,
        },
      ],
      sentAt: '2026-11-20T10:00:02.258596+00:00',
      writeKey: WRITE_KEY,
    });
  const headers = {
    'User-Agent': 'analytics-python/2.4.0',
    'Accept-Encoding': 'gzip, deflate',
    Accept: '*/*',
    Connection: 'keep-alive',
    'Content-Type': 'application/json',
    Authorization: basic,
  };
  const plain = await send('POST', '/v1/batch', headers, body('py-plain'));
  const zipped = await send('POST', '/v1/batch', { ...headers, 'Content-Encoding': 'gzip' }, gzipSync(body('py-gzip')));
  expect([plain.status, plain.body, zipped.status, zipped.body]).toEqual([200, '{"success":true}', 200, '{"success":true}']);

  for (const id of ['py-plain', 'py-gzip']) {
    const got = await landed(id, 2);
    const track = got.get(`${id}-track`)!;
    expect(track).toMatchObject({ type: 'track', event: 'Order Completed', user_id: 'py-user', anonymous_id: null, category: 'books', source: 'test', key: 'py-user' });
    expect(track.sent_at).toBe(Date.UTC(2026, 10, 20, 10, 0, 2, 258)); // microseconds dropped
    expect(clientTime(track)).toBe(Date.UTC(2026, 10, 20, 10, 0, 0));
    expect(JSON.parse(track.properties)).toEqual({ category: 'books', total: 12.5, emoji: '\u{1F600}' });
    // No context.ip: Segment fills the caller's address for client-side events only, and this
    // request, by its User-Agent, came from a backend.
    expect(JSON.parse(track.context)).toEqual({ library: { name: 'analytics-python', version: '2.4.0' } });
    const alias = got.get(`${id}-alias`)!;
    expect(alias).toMatchObject({ type: 'alias', user_id: 'py-user', previous_id: 'anon-py-user', anonymous_id: null });
    expect(clientTime(alias)).toBe(Date.UTC(2026, 10, 20, 10, 0, 1, 258));
  }
});

it('analytics-go: /v1/batch with a batch-level messageId and library context, nanosecond times, no writeKey in the body', async () => {
  const body = JSON.stringify({
    messageId: 'a68d01ff-89ae-4277-8c85-2754ac872eb9',
    sentAt: '2026-11-20T10:00:05.542252378Z',
    batch: [
      { type: 'group', messageId: 'go-1-group', userId: 'go-user', groupId: 'acme-co', timestamp: '2026-11-20T10:00:05.541850156Z', traits: { employees: 40 } },
      { type: 'screen', messageId: 'go-1-screen', userId: 'go-user', name: 'Home', timestamp: '2026-11-20T10:00:05.541849335Z', properties: { variant: 'a' } },
      { type: 'track', messageId: 'go-1-anon', anonymousId: 'anon-go', event: 'Anon Thing', timestamp: '2026-11-20T10:00:05.541851658Z', context: { groupId: 'ctx-group' } },
    ],
    context: { library: { name: 'analytics-go', version: '3.0.0' } },
  });
  const answer = await send(
    'POST',
    '/v1/batch',
    { 'User-Agent': 'analytics-go (version: 3.0.0)', Authorization: basic, 'Content-Type': 'application/json', 'Accept-Encoding': 'gzip' },
    body,
  );
  expect([answer.status, answer.body]).toEqual([200, '{"success":true}']);
  const got = await landed('go-1-', 3);
  const library = { name: 'analytics-go', version: '3.0.0' };
  expect(got.get('go-1-group')).toMatchObject({ type: 'group', user_id: 'go-user', group_id: 'acme-co' });
  expect(JSON.parse(got.get('go-1-group')!.context)).toEqual({ library }); // a backend's: no caller address
  expect(JSON.parse(got.get('go-1-group')!.traits)).toEqual({ employees: 40 });
  expect(got.get('go-1-screen')).toMatchObject({ type: 'screen', name: 'Home', sent_at: Date.UTC(2026, 10, 20, 10, 0, 5, 542) });
  expect(clientTime(got.get('go-1-screen')!)).toBe(Date.UTC(2026, 10, 20, 10, 0, 5, 541));
  const anon = got.get('go-1-anon')!;
  expect(anon).toMatchObject({ user_id: null, anonymous_id: 'anon-go', group_id: 'ctx-group', key: 'anon-go' });
  expect(JSON.parse(anon.context)).toEqual({ library, groupId: 'ctx-group' });
});

it('analytics-java: /v1/import/ with no Authorization header, the key in the body, charset=UTF-8, batch context and sequence', async () => {
  const body = JSON.stringify({
    batch: [
      {
        type: 'page',
        messageId: 'java-1-page',
        timestamp: '2026-11-20T10:00:08.323Z',
        userId: 'java-user',
        integrations: {},
        name: 'Checkout',
        properties: { category: 'Docs', path: '/checkout' },
      },
      { type: 'identify', messageId: 'java-1-identify', timestamp: '2026-11-20T10:00:08.317Z', userId: 'java-user', integrations: {}, traits: { plan: 'pro' } },
    ],
    sentAt: '2026-11-20T10:00:08.335Z',
    context: { library: { name: 'analytics-java', version: '3.5.1' }, instanceId: 'c6b4613c-24ad-4d1d-8d3f-44611869985a' },
    sequence: 1,
    writeKey: WRITE_KEY,
  });
  const answer = await send(
    'POST',
    '/v1/import/',
    { 'User-Agent': 'analytics-java/3.5.1', 'Content-Type': 'application/json; charset=UTF-8', Connection: 'Keep-Alive', 'Accept-Encoding': 'gzip' },
    body,
  );
  expect([answer.status, answer.body]).toEqual([200, '{"success":true}']);
  const got = await landed('java-1-', 2);
  const context = { library: { name: 'analytics-java', version: '3.5.1' }, instanceId: 'c6b4613c-24ad-4d1d-8d3f-44611869985a' };
  expect(got.get('java-1-page')).toMatchObject({ type: 'page', name: 'Checkout', category: 'Docs', user_id: 'java-user', source: 'test' });
  expect(JSON.parse(got.get('java-1-page')!.context)).toEqual(context); // a backend's: no caller address
  expect(clientTime(got.get('java-1-identify')!)).toBe(Date.UTC(2026, 10, 20, 10, 0, 8, 317));
  expect(JSON.parse(got.get('java-1-identify')!.traits)).toEqual({ plan: 'pro' });
});

describe('analytics-next in a browser', () => {
  const origin = 'http://shop.example:8000';
  const pageContext = {
    page: { path: '/', referrer: '', search: '', title: 'Shop', url: 'http://shop.example:8000/' },
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
    locale: 'en-US',
    library: { name: 'analytics.js', version: 'npm:next-1.84.3' },
    campaign: {},
    timezone: 'UTC',
  };
  const call = (id: string, extra: Record<string, unknown>) => ({
    timestamp: '2026-11-20T10:00:00.000Z',
    integrations: { 'Segment.io': true },
    ...extra,
    context: pageContext,
    messageId: id,
    userId: 'web-user',
    anonymousId: '3d1afbbb-81d2-4f3b-87f1-9570e4c4ad64',
    writeKey: WRITE_KEY,
    _metadata: { bundled: ['Segment.io'], unbundled: [], bundledIds: [] },
  });

  it('gets its preflight granted: the page origin echoed with credentials, the Authorization header it asks for allowed', async () => {
    const answer = await send('OPTIONS', '/v1/t', {
      Origin: origin,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization',
      'Sec-Fetch-Mode': 'cors',
    });
    expect(answer.status).toBe(204);
    expect(answer.headers['access-control-allow-origin']).toBe(origin);
    expect(answer.headers['access-control-allow-credentials']).toBe('true');
    expect(answer.headers['access-control-allow-methods']).toBe('POST, OPTIONS');
    expect(answer.headers['access-control-allow-headers']).toBe('authorization');
    expect(answer.body).toBe('');
  });

  it('delivers /v1/t (text/plain, Basic auth and writeKey, per-event sentAt) and /v1/b batches, answered with CORS headers', async () => {
    const headers = { Origin: origin, 'Content-Type': 'text/plain', Authorization: basic, 'Sec-Fetch-Mode': 'cors' };
    const single = await send(
      'POST',
      '/v1/t',
      headers,
      JSON.stringify({ ...call('next-1-track', { event: 'Order Completed', type: 'track', properties: { category: 'books' } }), sentAt: '2026-11-20T10:00:00.040Z' }),
    );
    const batch = await send(
      'POST',
      '/v1/b',
      headers,
      JSON.stringify({
        writeKey: WRITE_KEY,
        batch: [call('next-1-identify', { type: 'identify', traits: { plan: 'pro' } }), call('next-1-group', { type: 'group', groupId: 'acme-co', traits: {} })],
        sentAt: '2026-11-20T10:00:00.100Z',
      }),
    );
    for (const a of [single, batch]) {
      expect([a.status, a.body]).toEqual([200, '{"success":true}']);
      expect(a.headers['access-control-allow-origin']).toBe(origin);
      expect(a.headers['access-control-allow-credentials']).toBe('true');
    }
    const got = await landed('next-1-', 3);
    expect(got.get('next-1-track')).toMatchObject({ type: 'track', category: 'books', user_id: 'web-user', anonymous_id: '3d1afbbb-81d2-4f3b-87f1-9570e4c4ad64' });
    expect(clientTime(got.get('next-1-track')!)).toBe(Date.UTC(2026, 10, 20, 10));
    expect(JSON.parse(got.get('next-1-track')!.context)).toEqual({ ip: '127.0.0.1', ...pageContext });
    expect(got.get('next-1-group')).toMatchObject({ type: 'group', group_id: 'acme-co', sent_at: Date.UTC(2026, 10, 20, 10, 0, 0, 100) });
  });

  it('delivers a navigator.sendBeacon call: text/plain;charset=UTF-8, no Authorization, the key only in the body', async () => {
    const answer = await send(
      'POST',
      '/v1/track',
      { Origin: origin, 'Content-Type': 'text/plain;charset=UTF-8', 'Sec-Fetch-Mode': 'no-cors' },
      JSON.stringify({ writeKey: WRITE_KEY, userId: 'web-user', event: 'Beacon Sent', messageId: 'beacon-1' }),
    );
    expect([answer.status, answer.body]).toEqual([200, '{"success":true}']);
    expect(answer.headers['access-control-allow-origin']).toBe(origin);
    const got = await landed('beacon-1', 1);
    expect(got.get('beacon-1')).toMatchObject({ type: 'track', event: 'Beacon Sent', user_id: 'web-user', source: 'test' });
  });

  it("gets its project settings from /v1/projects/<key>/settings (cdnURL): pointed back at the Host it used, https behind a proxy that says so; an unknown key refused to a page only", async () => {
    const a = await send('GET', `/v1/projects/${WRITE_KEY}/settings`, { Origin: origin, Host: 'ingest.example:8080' });
    expect([a.status, a.headers['access-control-allow-origin']]).toEqual([200, origin]);
    expect(JSON.parse(a.body).integrations['Segment.io']).toMatchObject({ apiKey: WRITE_KEY, apiHost: 'ingest.example:8080/v1', protocol: 'http' });
    const proxied = await send('GET', `/v1/projects/${WRITE_KEY}/settings`, { Host: 'ingest.example', 'X-Forwarded-Proto': 'https' });
    expect(JSON.parse(proxied.body).integrations['Segment.io']).toMatchObject({ apiHost: 'ingest.example/v1', protocol: 'https' });
    // An unknown key: a page is refused (analytics.js fails to load saying why); a client that is
    // not a page gets settings, so a mobile SDK stays here and has its batch refused rather than
    // fall back to api.segment.io (ingest-kotlin-sdk.test.ts).
    const unknown = await send('GET', '/v1/projects/nope/settings', { Origin: origin });
    expect([unknown.status, JSON.parse(unknown.body).code]).toEqual([401, 'unknown_write_key']);
    const app = await send('GET', '/v1/projects/nope/settings', { Host: 'ingest.example:8080' });
    expect([app.status, JSON.parse(app.body).integrations['Segment.io']]).toEqual([200, expect.objectContaining({ apiKey: 'nope', apiHost: 'ingest.example:8080/v1' })]);
  });

  it('can read why a post to a wrong path failed: 404 and 405 carry the CORS headers too', async () => {
    const notFound = await send('POST', '/v1/trak', { Origin: origin, 'Content-Type': 'text/plain' }, '{}');
    const wrongMethod = await send('GET', '/v1/t', { Origin: origin });
    expect([notFound.status, wrongMethod.status]).toEqual([404, 405]);
    for (const a of [notFound, wrongMethod]) {
      expect(a.headers['access-control-allow-origin']).toBe(origin);
      expect(a.headers['access-control-allow-credentials']).toBe('true');
    }
    expect(JSON.parse(notFound.body)).toMatchObject({ code: 'not_found' });
  });

  it('can read Retry-After of a 503: it is exposed to the page', async () => {
    // 1 MiB for bodies arriving in pieces: the third 500 KB upload still in flight gets 503.
    const small = await startTestIngest({ INGEST_MAX_PENDING_BYTES: String(1024 * 1024) });
    const sockets: net.Socket[] = [];
    try {
      let answer = '';
      for (let i = 0; i < 10 && answer === ''; i++) {
        const socket = net.connect(small.handle.port, '127.0.0.1');
        sockets.push(socket);
        socket.on('error', () => undefined);
        let got = '';
        socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
        // The body's first piece; the rest never comes, so an upload let in holds its buffer.
        const head = `POST /v1/b HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${origin}\r\nContent-Type: text/plain\r\nAuthorization: ${basic}\r\nContent-Length: 500000\r\n\r\n`;
        await new Promise<void>((resolve) => socket.write(`${head}{"batch":[`, () => resolve()));
        // A refusal is written while the piece is read, so it is out once another request is answered.
        await send('GET', '/healthz', {}, undefined, small.handle.port);
        if (got.includes('\r\n\r\n')) answer = got;
      }
      expect(answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(answer).toMatch(/\r\nRetry-After: 5\r\n/i);
      expect(answer).toMatch(/\r\nAccess-Control-Expose-Headers: Retry-After\r\n/i);
      expect(answer).toContain(`\r\nAccess-Control-Allow-Origin: ${origin}\r\n`);
    } finally {
      for (const s of sockets) s.destroy();
      await small.close();
    }
  });
});

it('answers errors with code and message, which segment-analytics-python reads, as well as error', async () => {
  const unknown = await send('POST', '/v1/batch', { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from('nope:').toString('base64')}` }, '{"batch":[]}');
  expect(unknown.status).toBe(401);
  expect(JSON.parse(unknown.body)).toEqual({ success: false, code: 'unknown_write_key', error: 'the write key is not known', message: 'the write key is not known' });
  const mixed = await send(
    'POST',
    '/v1/batch',
    { 'Content-Type': 'application/json', Authorization: basic },
    JSON.stringify({ batch: [{ type: 'track', userId: 'err-user', event: 'Ok', messageId: 'err-1-ok' }, { type: 'track', userId: 'err-user' }] }),
  );
  expect(mixed.status).toBe(400);
  const body = JSON.parse(mixed.body);
  expect(body).toMatchObject({ success: false, code: 'invalid_event', accepted: 1, rejected: [{ index: 1, code: 'missing_field' }] });
  expect(body.message).toBe(body.error);
  expect((await landed('err-1-', 1)).get('err-1-ok')).toMatchObject({ event: 'Ok' });
});
