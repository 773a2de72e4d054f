// No request can take the edge down: generated garbage, truncated and oversized bodies, deep
// nesting, bytes that are not UTF-8, wrong headers, and clients that vanish mid-body. Afterwards
// the same server still answers and still delivers a valid event.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC, postJson, startTestIngest, TopicReader, trackEvent, type TestIngest } from './ingest-support.js';

let ingest: TestIngest;
let reader: TopicReader;
let port: number;

beforeAll(async () => {
  ingest = await startTestIngest();
  port = ingest.handle.port;
  reader = await new TopicReader(ingest.kafka, [ingest.config.kafka.topics.events]).start();
});

afterAll(async () => {
  await reader?.stop();
  await ingest?.close();
});

const ALLOWED = [200, 400, 401, 413, 415];

const valid = JSON.stringify({ batch: [trackEvent('fuzz-base', 'fuzz-user'), trackEvent('fuzz-base-2', 'fuzz-user')] });

const eventLike = fc.record(
  {
    type: fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias', 'nope', ''),
    userId: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object(), fc.double()),
    anonymousId: fc.oneof(fc.string(), fc.constant(undefined)),
    event: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    groupId: fc.oneof(fc.string(), fc.boolean()),
    previousId: fc.oneof(fc.string(), fc.constant(undefined)),
    messageId: fc.oneof(fc.uuid(), fc.string(), fc.array(fc.string())),
    timestamp: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.integer()),
    sentAt: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant(undefined), fc.string()),
    properties: fc.oneof(fc.object(), fc.jsonValue(), fc.constant(null)),
    context: fc.oneof(fc.object(), fc.array(fc.integer())),
    traits: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

const bodies: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.json().map((s) => Buffer.from(s)),
  eventLike.map((e) => Buffer.from(JSON.stringify(e))),
  fc.array(eventLike, { maxLength: 20 }).map((batch) => Buffer.from(JSON.stringify({ batch }))),
  fc.nat({ max: valid.length }).map((n) => Buffer.from(valid.slice(0, n))),
  fc.uint8Array({ maxLength: 4096 }),
  fc.string({ unit: 'binary', maxLength: 2000 }).map((s) => Buffer.from(s)),
  fc.integer({ min: 1_000, max: 120_000 }).map((n) => Buffer.from(`{"batch":[${'['.repeat(n)}${']'.repeat(n)}]}`)),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => Buffer.from(`{"userId":"deep","event":"e","properties":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`)),
  fc.integer({ min: 30_000, max: 700_000 }).map((n) => Buffer.from(`{"batch":[{"type":"track","userId":"big","event":"${'x'.repeat(n)}"}]}`)),
  fc.constant(Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(valid)])), // UTF-8 BOM
  fc.constant(Buffer.from('{"batch":[{"type":"track","userId":"\ud800","event":"lone surrogate"}]}')),
);

describe('generated bodies', () => {
  it('every body gets a JSON answer with an allowed status, whatever its headers', async () => {
    await fc.assert(
      fc.asyncProperty(
        bodies,
        fc.constantFrom('track', 'batch', 'identify', 'page', 'group', 'alias', 'b', 'import'),
        fc.constantFrom('application/json', 'text/plain; charset=utf-8', '', 'application/xml', 'multipart/form-data; boundary=x'),
        fc.constantFrom('', 'gzip', 'deflate', 'br', 'identity'),
        fc.boolean(),
        fc.constantFrom(BASIC, '', 'Basic !!!', `Basic ${Buffer.from('x:y').toString('base64')}`),
        async (body, path, contentType, encoding, compress, authorization) => {
          let payload = Buffer.from(body);
          if (compress && encoding === 'gzip') payload = gzipSync(payload);
          if (compress && encoding === 'deflate') payload = deflateSync(payload);
          const headers: Record<string, string> = { authorization };
          if (contentType !== '') headers['content-type'] = contentType;
          if (encoding !== '') headers['content-encoding'] = encoding;
          const res = await fetch(`http://127.0.0.1:${port}/v1/${path}`, { method: 'POST', body: payload, headers });
          const text = await res.text();
          expect(ALLOWED).toContain(res.status);
          const json = JSON.parse(text) as { success: boolean };
          expect(json.success).toBe(res.status === 200);
        },
      ),
      { numRuns: 250 },
    );
  });
});

/** Opens a raw connection, writes `parts` (with pauses), and returns whatever comes back. */
function raw(parts: (string | Buffer)[], opts: { destroyAfter?: boolean; pauseMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('error', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('connect', async () => {
      for (const p of parts) {
        if (sock.destroyed) break;
        sock.write(p);
        await new Promise((r) => setTimeout(r, opts.pauseMs ?? 5));
      }
      if (opts.destroyAfter) sock.destroy();
      else setTimeout(() => sock.end(), 500);
    });
  });
}

const head = (path: string, length: number, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: ${BASIC}\r\nContent-Length: ${length}\r\n${extra}\r\n`;

describe('raw clients', () => {
  it('survives clients that disconnect mid-body, lie about lengths, or send garbage, and reads bodies sent in pieces', async () => {
    const body = JSON.stringify({ batch: [trackEvent(`pieces-${randomUUID()}`, 'raw-user')] });
    const abrupt = Array.from({ length: 40 }, (_, i) =>
      raw([head('/v1/batch', 100_000), Buffer.alloc(1000 * (i + 1), 0x7b)], { destroyAfter: true }),
    );
    const results = await Promise.all([
      ...abrupt,
      raw([head('/v1/track', 1000), '{"userId":'], { destroyAfter: true }),
      raw([head('/v1/batch', 10)], { destroyAfter: true }),
      raw(['GARBAGE / NOT-HTTP\r\n\r\n']),
      raw([`POST /v1/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: ${BASIC}\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n`]),
      raw([head('/v1/batch', 900_000), Buffer.alloc(600_000, 0x20)], { destroyAfter: true }),
      // Over the limit and still sending: answered 413 (and the connection closed) mid-upload.
      raw([head('/v1/batch', 2_000_000), Buffer.alloc(600_000, 0x20), Buffer.alloc(600_000, 0x20)], { pauseMs: 50 }),
      // A valid body in three pieces with pauses: gathered across chunks, then accepted.
      raw([head('/v1/batch', Buffer.byteLength(body)), body.slice(0, 10), body.slice(10, 40), body.slice(40)], { pauseMs: 30 }),
    ]);
    expect(results.at(-1)).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(results.at(-1)).toContain('{"success":true}');
    expect(results.at(-2)).toMatch(/^HTTP\/1\.1 413/);

    // Still alive and still delivering.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const id = `after-${randomUUID()}`;
    expect((await postJson(`http://127.0.0.1:${port}/v1/track`, trackEvent(id, 'still-alive'))).status).toBe(200);
    const got = await reader.events(ingest.config.kafka.topics.events, id, 1);
    expect(got[0]).toMatchObject({ event_id: id, user_id: 'still-alive', event: 'Order Completed' });
    const pieces = await reader.events(ingest.config.kafka.topics.events, 'pieces-', 1);
    expect(pieces[0]!.user_id).toBe('raw-user');
  });
});

describe('bodies arriving in pieces', () => {
  it('hold at most INGEST_MAX_PENDING_BYTES: past it a new slow upload gets 503 + Retry-After, and the memory comes back', async () => {
    const bounded = await startTestIngest({ INGEST_MAX_PENDING_BYTES: String(1024 * 1024) });
    try {
      const size = 400 * 1024;
      const upload = (id: string) => {
        const json = JSON.stringify({ batch: [trackEvent(id, 'slow-user')] });
        const body = json + ' '.repeat(size - Buffer.byteLength(json)); // JSON allows trailing blanks
        return rawTo(bounded.handle.port, [head('/v1/batch', size), body.slice(0, 100 * 1024), body.slice(100 * 1024)], { pauseMs: 400 });
      };
      // Five uploads of 400 KB at once: two fit in 1 MB, three are refused.
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => upload(`slow-${i}-${randomUUID()}`)));
      const status = answers.map((a) => Number(a.slice(9, 12)));
      expect(status.filter((s) => s === 200)).toHaveLength(2);
      expect(status.filter((s) => s === 503)).toHaveLength(3);
      for (const a of answers.filter((x) => x.startsWith('HTTP/1.1 503'))) {
        expect(a).toMatch(/Retry-After: \d+/i);
        expect(a).toContain('"code":"overloaded"');
      }
      // Once those bodies are done, their memory is free again.
      const again = await upload(`slow-again-${randomUUID()}`);
      expect(again).toMatch(/^HTTP\/1\.1 200 OK/);
    } finally {
      await bounded.close();
    }
  });
});

function rawTo(p: number, parts: (string | Buffer)[], opts: { pauseMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ port: p, host: '127.0.0.1' });
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('error', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('connect', async () => {
      for (const part of parts) {
        if (sock.destroyed) break;
        sock.write(part);
        await new Promise((r) => setTimeout(r, opts.pauseMs ?? 5));
      }
      setTimeout(() => sock.end(), 300);
    });
  });
}
