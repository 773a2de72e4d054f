// What a client sends is what it reads back. Generated Segment calls (odd keys, duplicate keys,
// numbers JSON spells many ways, deep nesting, long unicode, ids and names that need URL encoding,
// times with offsets and fractions) go through the real edge, Kafka, the sink and chDB, and are
// read back from REST and GraphQL, from the view and from ClickHouse, and must come back as
// JSON.parse read what was sent, under the documented normalisations only (docs/contract.md):
// ids as text, times in UTC to the millisecond (digits beyond dropped), context.ip filled, lone
// surrogates as U+FFFD, -0 as 0, integers past 2^53 that fit 64 bits kept digit for digit.
// Seeded: a failure prints fast-check's seed and path; pass them to fc.assert to replay it.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/log.js';
import type { EventReply } from '../../src/schema/index.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import { kafkaBrokers, tempDir, testConfig } from '../support/env.js';
import { BASIC } from './ingest-support.js';
import { READ_KEY, startPipeline, type Pipeline } from './pipeline-support.js';
import { metricValue } from './query-helpers.js';

// ---------------------------------------------------------------------------------------------
// JSON values as text, so the text can hold what JSON.stringify never writes (duplicate keys,
// `-0`, `1E2`, escapes). The oracle is JSON.parse of that text.

type J = { k: 'obj'; entries: [string, J][] } | { k: 'arr'; items: J[] } | { k: 'str'; s: string; esc: boolean } | { k: 'raw'; text: string };

const ODD_KEYS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'a.b', 'a.b.c', '$', '$set',
  '\u0000', 'k\u0000k', '😀', '𝔘𝔫𝔦', 'שלום', 'مرحبا', 'category', 'name', 'groupId', 'ip', 'a', 'b', '0', '1', '-1', ' ',
];
const NUMBERS = [
  '-0', '0', '1e308', '-1e308', '5e-324', '1E2', '1e+2', '1e-2', '0.1', '1.0', '1.50', '100000000000000000000', '12345678901234567890',
  '18446744073709551615', '-9223372036854775808', '9007199254740993', '9007199254740992', '-1', '42', '3.141592653589793', '2.5e-7',
];
const ODD_TEXT = ['', ' ', 'é', '😀', '\ud83d', '\udc00x', 'שלום עולם', 'مرحبا', '\u202etxt', '\u0000', '\n\t"\\', '/', '%41', '?#&=+', 'e\u0301', '\u2028\u2029'];

const text = fc.oneof(
  fc.constantFrom(...ODD_TEXT),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({ unit: fc.constantFrom(...ODD_TEXT), maxLength: 6 }),
);
const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ODD_KEYS) }, { weight: 1, arbitrary: text });
const leaf: fc.Arbitrary<J> = fc.oneof(
  fc.record({ k: fc.constant('str' as const), s: text, esc: fc.boolean() }),
  fc.constantFrom(...NUMBERS, 'true', 'false', 'null').map((t): J => ({ k: 'raw', text: t })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d): J => ({ k: 'raw', text: JSON.stringify(d) })),
  fc.constantFrom('{}', '[]').map((t): J => ({ k: 'raw', text: t })),
);
const { value } = fc.letrec<{ value: J; obj: J }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('obj'), fc.array(tie('value'), { maxLength: 4 }).map((items): J => ({ k: 'arr', items }))),
  obj: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries): J => ({ k: 'obj', entries })),
}));
/** Random objects of a few members. */
const small: fc.Arbitrary<J> = fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries): J => ({ k: 'obj', entries }));
/** Objects for properties / traits / context: random, deep but allowed, or holding one long string. */
const object: fc.Arbitrary<J> = fc.oneof(
  { weight: 6, arbitrary: small },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 1000 }).map((d) => nest(d)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('é', '😀', 'x', 'שׁ', '\u0000', '"'), fc.integer({ min: 1000, max: 7000 })).map(([c, n]): J => ({ k: 'obj', entries: [['long', { k: 'str', s: c.repeat(n), esc: false }]] })) },
);

/** An object `depth` levels deep (ClickHouse reads 1024), alternating objects and arrays. */
function nest(depth: number): J {
  let v: J = { k: 'raw', text: '1' };
  for (let i = 1; i < depth; i++) v = i % 2 ? { k: 'arr', items: [v, { k: 'raw', text: '-0' }] } : { k: 'obj', entries: [['d', v]] };
  return { k: 'obj', entries: [['n', v]] };
}

/** JSON string text; `esc` spells every character past ASCII as \uXXXX (a client that escapes). */
function quote(s: string, esc = false): string {
  const t = JSON.stringify(s);
  return esc ? t.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : t;
}

function render(j: J): string {
  switch (j.k) {
    case 'obj':
      return `{${j.entries.map(([k, v]) => `${quote(k)}:${render(v)}`).join(',')}}`;
    case 'arr':
      return `[${j.items.map(render).join(',')}]`;
    case 'str':
      return quote(j.s, j.esc);
    case 'raw':
      return j.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Ids, names and times.

const ODD_IDS = ['007', '1e3', '0x10', '-0', '1.0', 'a/b', '../x', 'a%2Fb', '%', '100%', 'a?b=c', '#frag', 'a b', ' lead', 'trail ', 'ü', 'ユーザー', '😀', 'ab\ud83d', 'שלום', 'a+b', 'a&b', 'a;b', '\\', '"q"', '.x', 'x.', '~'];
/** A user id or event name as JSON text: a string (often odd), or a number a client sent as one. */
const idText = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...ODD_IDS), fc.boolean()).map(([s, esc]) => quote(s, esc)) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.boolean()).map(([s, esc]) => quote(s, esc)) },
  { weight: 1, arbitrary: fc.constantFrom('7', '1e3', '1.5', '12345678901234567890', '-9223372036854775808', '0') },
);
const nameText = fc.oneof(fc.constantFrom(...ODD_IDS).map((s) => quote(s)), fc.string({ minLength: 1, maxLength: 10 }).map((s) => quote(s)), fc.constantFrom('"Order Completed"', '"a.b"', '"$pageview"'));

const DAY = 86_400_000;
/** 2017-01-01 up to two days ago: inside the wide view's window (10 years), outside the narrow one's (1 day). */
const T_MIN = Date.UTC(2017, 0, 1);
const T_MAX = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
const LEAP_DAYS = [Date.UTC(2020, 1, 29), Date.UTC(2024, 1, 29)];
const OFFSETS = [0, 330, -330, 345, 840, -720, 60, -60, -0.5 /* -00:00 */, 0.5 /* Z */];

const instant = fc.oneof(
  fc.integer({ min: T_MIN, max: T_MAX }),
  // Around a UTC midnight, where an offset moves the local date.
  fc.tuple(fc.integer({ min: T_MIN / DAY, max: T_MAX / DAY - 1 }), fc.integer({ min: -3, max: 2 })).map(([d, ms]) => d * DAY + ms),
  fc.tuple(fc.constantFrom(...LEAP_DAYS), fc.integer({ min: 0, max: DAY - 1 })).map(([d, ms]) => d + ms),
);

interface Time {
  text: string;
  ms: number;
}

/** `ms` written in a zone of `OFFSETS` with `digits` fraction digits (past 3: more digits, dropped by the edge). */
function isoAt(ms: number, offset: number, digits: number, extra: string): string {
  const minutes = Math.trunc(offset);
  const local = new Date(ms + minutes * 60_000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const frac = local.slice(20, 23);
  const fraction = digits === 0 ? '' : `.${(frac + extra).slice(0, digits)}`;
  const zone = offset === 0.5 ? 'Z' : offset === -0.5 ? '-00:00' : `${minutes < 0 ? '-' : '+'}${String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0')}:${String(Math.abs(minutes) % 60).padStart(2, '0')}`;
  return `${local.slice(0, 19)}${fraction}${zone}`;
}

const time: fc.Arbitrary<Time> = fc
  .tuple(instant, fc.constantFrom(...OFFSETS), fc.integer({ min: 0, max: 9 }), fc.stringMatching(/^\d{6}$/))
  .map(([ms, offset, digits, extra]) => {
    // Fewer than three digits: the instant is cut to what they can say.
    const unit = digits >= 3 ? 1 : 10 ** (3 - digits);
    const at = Math.floor(ms / unit) * unit;
    return { text: isoAt(at, offset, digits, extra), ms: at };
  });

// ---------------------------------------------------------------------------------------------
// Calls.

interface Call {
  /** The event's JSON text as sent. */
  text: string;
  messageId: string;
  time: Time;
  /** The call's own sentAt minus its timestamp (clock skew: the edge corrects by it), if sent. */
  skew: number | null;
  /** Integer texts past 2^53 that fit 64 bits, sent in properties / traits / context. */
  wide: string[];
}

const call = fc
  .record({
    type: fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias'),
    userId: fc.option(idText, { nil: undefined }),
    anonymousId: idText,
    event: nameText,
    extra: fc.option(nameText, { nil: undefined }),
    groupId: idText,
    previousId: idText,
    properties: fc.option(object, { nil: undefined }),
    traits: fc.option(object, { nil: undefined }),
    context: fc.option(object, { nil: undefined }),
    time,
    dupEvent: fc.option(nameText, { nil: undefined }),
    dupProperties: fc.option(object, { nil: undefined }),
    sentAt: fc.option(fc.tuple(fc.integer({ min: -DAY, max: DAY }), fc.constantFrom(...OFFSETS), fc.integer({ min: 0, max: 9 })), { nil: undefined }),
  })
  .map((r): Call => {
    const messageId = `rt-${randomUUID()}`;
    const parts = [`"type":"${r.type}"`, `"messageId":${quote(messageId)}`, `"timestamp":${quote(r.time.text)}`];
    // alias needs a userId; every call needs one of the two ids.
    if (r.userId !== undefined || r.type === 'alias') parts.push(`"userId":${r.userId ?? r.anonymousId}`);
    else parts.push(`"anonymousId":${r.anonymousId}`);
    if (r.type === 'track') {
      parts.push(`"event":${r.event}`);
      // A client that writes a key twice: JSON.parse keeps the last.
      if (r.dupEvent !== undefined) parts.push(`"event":${r.dupEvent}`);
    }
    if ((r.type === 'page' || r.type === 'screen') && r.extra !== undefined) parts.push(`"name":${r.extra}`, `"category":${r.extra}`);
    if (r.type === 'group') parts.push(`"groupId":${r.groupId}`);
    if (r.type === 'alias') parts.push(`"previousId":${r.previousId}`);
    // The device's send time: the edge moves timestamp by the skew it shows (Segment's rule).
    let skew: number | null = null;
    if (r.sentAt !== undefined) {
      const [by, zone, digits] = r.sentAt;
      const unit = digits >= 3 ? 1 : 10 ** (3 - digits);
      const sent = Math.floor((r.time.ms + by) / unit) * unit;
      skew = sent - r.time.ms;
      parts.push(`"sentAt":${quote(isoAt(sent, zone, digits, '999999'))}`);
    }
    // A repeated key: the last one counts, as JSON.parse reads it.
    for (const [k, o] of [['properties', r.properties], ['traits', r.traits], ['context', r.context], ['properties', r.dupProperties]] as const) {
      if (o === undefined) continue;
      const t = render(o);
      parts.push(`"${k}":${t}`);
    }
    const text = `{${parts.join(',')}}`;
    return { text, messageId, time: r.time, skew, wide: survivors(text) };
  })
  // Within the 32 KB an event may take, with a batch's context (small) merged into it.
  .filter((c) => Buffer.byteLength(c.text) < 28_000);

/**
 * The integers of `t` past 2^53 that fit 64 bits and that JSON.parse keeps (a repeated key drops
 * the values before the last): each is marked, and a marker is looked for after JSON.parse.
 */
function survivors(t: string): string[] {
  const found: string[] = [];
  const marked = t.replace(/(?<=[:,[])-?\d{16,20}(?=[,\]}])/g, (m) => (fitsWide(m) ? `"@@wide@@${found.push(m) - 1}@@"` : m));
  const kept = JSON.stringify(JSON.parse(marked));
  return found.filter((_, i) => kept.includes(`"@@wide@@${i}@@"`));
}

/** An integer JSON.parse rounds that fits UInt64, or Int64 when negative. */
function fitsWide(t: string): boolean {
  if (Number.isSafeInteger(Number(t))) return false;
  const n = BigInt(t);
  return n >= -(2n ** 63n) && n < 2n ** 64n;
}

// ---------------------------------------------------------------------------------------------
// The oracle: the reply an event should get, from JSON.parse of what was sent.

/** One event of a reply, as REST answers it (GraphQL's nodes are read into the same shape). */
type Reply = EventReply;

/** A lone surrogate as U+FFFD (String.prototype.toWellFormed, Node 20; not in this lib target). */
const wf = (s: string): string => (String.prototype as unknown as { toWellFormed(this: string): string }).toWellFormed.call(s);

/** Every string (keys too) well-formed, numbers as JSON.stringify then JSON.parse give them (-0 as 0). */
function stored(v: unknown): unknown {
  if (typeof v === 'string') return wf(v);
  if (typeof v === 'number') return JSON.parse(JSON.stringify(v)) as number;
  if (Array.isArray(v)) return v.map(stored);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, wf(k), { value: stored(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/** An id as the edge stores it: a string as is, a number as its decimal text (a wide one as sent). */
function idOf(v: unknown, sentText: string, name: string): string | null {
  if (typeof v === 'string') return v === '' ? null : wf(v);
  if (typeof v === 'number') {
    // Sent as an integer past 2^53 that fits 64 bits: its digits (the one of that value).
    for (const m of sentText.matchAll(new RegExp(`"${name}":(-?\\d+)(?=[,}])`, 'g'))) if (fitsWide(m[1]!) && Number(m[1]) === v) return m[1]!;
    return String(v);
  }
  return null;
}

function own(o: unknown, k: string): unknown {
  return o !== null && typeof o === 'object' && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
}

/** `batchContext`: the batch's own context text (Segment merges it under each event's context), or null. */
function expected(c: Call, ip: string, batchContext: string | null): Omit<Reply, 'received_at'> {
  const e = JSON.parse(c.text) as Record<string, unknown>;
  if (batchContext !== null) e.context = { ...(JSON.parse(batchContext) as object), ...(e.context ?? {}) };
  const type = e.type as string;
  const props = e.properties;
  let category = typeof own(props, 'category') === 'string' && own(props, 'category') !== '' ? (own(props, 'category') as string) : null;
  if (category === null && (type === 'page' || type === 'screen') && typeof e.category === 'string' && e.category !== '') category = e.category;
  let name = (type === 'page' || type === 'screen') && typeof e.name === 'string' ? e.name : null;
  if (name === null && (type === 'page' || type === 'screen') && typeof own(props, 'name') === 'string') name = own(props, 'name') as string;
  const context = (stored(e.context ?? {}) as Record<string, unknown>);
  const ctxGroup = own(e.context, 'groupId');
  const withIp = Object.hasOwn(context, 'ip') ? context : { ip, ...context };
  return {
    event_id: c.messageId,
    type,
    event: type === 'track' ? wf(e.event as string) : null,
    user_id: idOf(e.userId, c.text, 'userId'),
    anonymous_id: idOf(e.anonymousId, c.text, 'anonymousId'),
    timestamp: new Date(c.time.ms).toISOString(),
    source: 'test',
    category: category === null ? null : wf(category),
    group_id: type === 'group' ? idOf(e.groupId, c.text, 'groupId') : typeof ctxGroup === 'string' || typeof ctxGroup === 'number' ? idOf(ctxGroup, `${c.text}${batchContext ?? ''}`, 'groupId') : null,
    properties: stored(props ?? {}),
    traits: stored(e.traits ?? {}),
    context: withIp,
    name: name === null ? null : wf(name),
    previous_id: type === 'alias' ? idOf(e.previousId, c.text, 'previousId') : null,
  };
}

// ---------------------------------------------------------------------------------------------
// Readers.

const AUTH = { authorization: `Bearer ${READ_KEY}` };
const WIDE_FROM = '2000-01-01T00:00:00Z';
const WIDE_TO = '2100-01-01T00:00:00Z';

interface Got {
  events: Reply[];
  text: string;
}

async function rest(base: string, user: string, query: string): Promise<Got> {
  // Dots too: fetch (the WHATWG URL parser) resolves `.` and `..` segments, escaped or not.
  const res = await fetch(`${base}/v1/users/${encodeURIComponent(user)}/events?${query}`, { headers: AUTH });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${user} ?${query}: ${res.status} ${text}`);
  return { events: (JSON.parse(text) as { events: Reply[] }).events, text };
}

const NODE = 'eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId';
/** The fast page (the operation is only that page) and graphql-jit's execution (a directive: never a fast page). */
const GQL = {
  fast: `query ($id: String!) { user(id: $id) { events(from: "${WIDE_FROM}", to: "${WIDE_TO}", first: 1000) { edges { node { ${NODE} } } } } }`,
  executed: `query ($id: String!) { user(id: $id) { events(from: "${WIDE_FROM}", to: "${WIDE_TO}", first: 1000) { edges { node @include(if: true) { ${NODE} } } } } }`,
};

async function graphql(base: string, user: string, doc: string): Promise<Got> {
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ query: doc, variables: { id: user } }) });
  const text = await res.text();
  const body = JSON.parse(text) as { data?: { user: { events: { edges: { node: Record<string, unknown> }[] } } }; errors?: unknown };
  if (res.status !== 200 || body.errors !== undefined) throw new Error(`GraphQL ${user}: ${res.status} ${text}`);
  const events = body.data!.user.events.edges.map(({ node: n }) => ({
    event_id: n.eventId, type: n.type, event: n.event, user_id: n.userId, anonymous_id: n.anonymousId, timestamp: n.timestamp, received_at: n.receivedAt,
    source: n.source, category: n.category, group_id: n.groupId, properties: n.properties, traits: n.traits, context: n.context, name: n.name, previous_id: n.previousId,
  })) as Reply[];
  return { events, text };
}

/** Polls `read` until it holds event `id` (the sink and the views catch up on their own). */
async function until(what: string, read: () => Promise<Got>, id: string): Promise<Got & { event: Reply }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const got = await read();
    const event = got.events.find((e) => e.event_id === id);
    if (event !== undefined) return { ...got, event };
    if (Date.now() > deadline) throw new Error(`${what}: event ${id} not visible: ${got.text.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const has = (g: Got, id: string) => g.events.some((e) => e.event_id === id);
/** `ms` as a query bound, written in a zone of its own (a UTC day boundary seen from elsewhere). */
const bound = (ms: number, offset: number) => encodeURIComponent(isoAt(ms, offset, 3, ''));

// ---------------------------------------------------------------------------------------------

describe('a call sent to the edge reads back intact', () => {
  const dirs = [tempDir(), tempDir()];
  let p: Pipeline;
  let wide: QueryComponent; // the view holds every generated event
  let narrow: QueryComponent; // one day of view: every generated event comes from ClickHouse
  let ip = '';
  let registry: Registry | undefined;
  let wideRegistry: Registry;

  beforeAll(async () => {
    p = await startPipeline();
    const t = p.ingest.config.kafka.topics;
    const topics = { KAFKA_TOPIC_EVENTS: t.events, KAFKA_TOPIC_REJECTED: t.rejected, KAFKA_TOPIC_DLQ: t.dlq };
    const component = (dir: string, days: string) =>
      queryComponent({ config: testConfig(dir, { ...topics, QUERY_VIEW_DAYS: days }), brokers: kafkaBrokers(), clickhouse: p.clickhouse, log: silentLogger(), registry: (registry = createRegistry('q', false)) });
    wide = await component(dirs[0]!.path, '3650');
    wideRegistry = registry!;
    narrow = await component(dirs[1]!.path, '1');
    // The address the edge records for this test's requests.
    ip = '127.0.0.1';
  });
  afterAll(async () => {
    await Promise.allSettled([wide?.stop(), narrow?.stop()]);
    await p?.close();
    for (const d of dirs) d.remove();
  });

  it('REST and GraphQL, from the view and from ClickHouse, answer each call as JSON.parse read it, filters included', async () => {
    const servers = () => ({
      clickhouse: p.queryUrl,
      view: `http://127.0.0.1:${wide.server.port}`,
      beyondView: `http://127.0.0.1:${narrow.server.port}`,
    });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 3 }), fc.option(small.map(render), { nil: null, freq: 4 }), fc.boolean(), async (calls, batchContext, single) => {
        const before = Date.now();
        // One call alone goes to its own endpoint (/v1/track, ...) half the time, as analytics.js sends it.
        const alone = single && calls.length === 1 && batchContext === null;
        const body = alone ? calls[0]!.text : `{"batch":[${calls.map((c) => c.text).join(',')}]${batchContext === null ? '' : `,"context":${batchContext}`}}`;
        const path = alone ? (JSON.parse(calls[0]!.text) as { type: string }).type : 'batch';
        const res = await fetch(`${p.ingest.url}/v1/${path}`, { method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/json' }, body });
        const answer = await res.text();
        expect(`${res.status} ${answer}`).toBe('200 {"success":true}');
        const after = Date.now();
        const s = servers();
        for (const c of calls) {
          const want = expected(c, ip, batchContext);
          const user = (want.user_id ?? want.anonymous_id)!;
          const all = `from=${WIDE_FROM}&to=${WIDE_TO}&limit=1000`;
          const reads: [string, () => Promise<Got>][] = [
            ['REST, ClickHouse', () => rest(s.clickhouse, user, all)],
            ['REST, view', () => rest(s.view, user, all)],
            ['REST, beyond the view', () => rest(s.beyondView, user, all)],
            ['GraphQL fast page, view', () => graphql(s.view, user, GQL.fast)],
            ['GraphQL executed, view', () => graphql(s.view, user, GQL.executed)],
            ['GraphQL fast page, beyond the view', () => graphql(s.beyondView, user, GQL.fast)],
            ['GraphQL executed, beyond the view', () => graphql(s.beyondView, user, GQL.executed)],
          ];
          let ms = c.time.ms;
          for (const [what, read] of reads) {
            const got = await until(what, read, c.messageId);
            const { received_at, ...rest } = got.event;
            if (c.skew !== null) {
              // Corrected by the skew from the time the edge received it, which lies in [before, after].
              ms = Date.parse(rest.timestamp);
              expect(ms).toBeGreaterThanOrEqual(before - c.skew);
              expect(ms).toBeLessThanOrEqual(after - c.skew);
              want.timestamp = rest.timestamp;
            }
            expect(rest, `${what}: ${c.text.slice(0, 300)}`).toEqual(want);
            expect(Date.parse(received_at)).toBeGreaterThanOrEqual(before - 1);
            expect(Date.parse(received_at)).toBeLessThanOrEqual(after + 1);
            expect(received_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
            // Integers past 2^53 come back digit for digit, in REST's text and GraphQL's.
            for (const w of c.wide) expect(got.text.includes(w), `${what}: ${w} of ${c.text.slice(0, 300)}`).toBe(true);
          }
          // Filters find it: its own millisecond, bounds in other zones, its type and name.
          for (const base of [s.clickhouse, s.view, s.beyondView]) {
            const zone = OFFSETS[ms % OFFSETS.length]!;
            expect(has(await rest(base, user, `from=${bound(ms, zone)}&to=${bound(ms + 1, -zone)}`), c.messageId), `[${ms}, ${ms + 1}) ${base}`).toBe(true);
            expect(has(await rest(base, user, `from=${bound(ms + 1, zone)}&to=${WIDE_TO}`), c.messageId), `from ${ms + 1}`).toBe(false);
            expect(has(await rest(base, user, `from=${WIDE_FROM}&to=${bound(ms, zone)}`), c.messageId), `to ${ms}`).toBe(false);
            // A bound finer than a millisecond is rounded up (docs/openapi.yaml IsoQueryTime): just
            // after the event's millisecond starts, `from` is past it and `to` still holds it.
            const after = encodeURIComponent(isoAt(ms, -zone, 9, '000100'));
            expect(has(await rest(base, user, `from=${after}&to=${WIDE_TO}`), c.messageId), `from ${after}`).toBe(false);
            expect(has(await rest(base, user, `from=${WIDE_FROM}&to=${after}`), c.messageId), `to ${after}`).toBe(true);
            const named = want.event === null ? '' : `&event=${encodeURIComponent(want.event)}`;
            expect(has(await rest(base, user, `${all}&type=${want.type}${named}`), c.messageId), `type=${want.type}${named}`).toBe(true);
          }
        }
      }),
      { numRuns: 60, seed: 20261206, endOnFailure: true },
    );
    // Both GraphQL paths were taken: the fast page (from the view's bytes) and graphql-jit's.
    expect(await metricValue(wideRegistry, 'trackhouse_graphql_fast_pages_total', {})).toBeGreaterThan(0);
  });

  it('finds users and event names of the longest length the edge takes (8192 UTF-16 units), from REST and GraphQL', async () => {
    const ids = ['a'.repeat(8192), 'é'.repeat(8192), '😀'.repeat(4096), '%/?#'.repeat(2048), `${'x'.repeat(8191)}😀`.slice(0, 8192)];
    // The name as long as the id where both fit the 32 KB an event may take.
    const batch = ids.map((userId, i) => ({ type: 'track', userId, event: i === 1 || i === 2 ? `${userId.slice(0, 2048)}!` : userId, messageId: `long-${randomUUID()}`, timestamp: '2024-02-29T23:59:59.999+00:00' }));
    const res = await fetch(`${p.ingest.url}/v1/batch`, { method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
    expect(`${res.status} ${await res.text()}`).toBe('200 {"success":true}');
    const view = `http://127.0.0.1:${wide.server.port}`;
    for (const [i, id] of ids.entries()) {
      const user = wf(id);
      const name = wf(batch[i]!.event);
      const q = `from=2024-02-29T23:59:59.999Z&to=2024-03-01T05:30:00%2B05:30&event=${encodeURIComponent(name)}`;
      for (const [what, read] of [
        ['REST, ClickHouse', () => rest(p.queryUrl, user, q)],
        ['REST, view', () => rest(view, user, q)],
        ['GraphQL, view', () => graphql(view, user, GQL.fast)],
      ] as const) {
        const got = await until(`${what} ${i}`, read, batch[i]!.messageId);
        expect([got.event.user_id, got.event.event], `${what} ${i}`).toEqual([user, name]);
      }
    }
  });

  it('finds the users `.` and `..` through GraphQL; a URL path cannot hold them (clients resolve dot segments)', async () => {
    const ids = ['.', '..'];
    const batch = ids.map((userId) => ({ type: 'track', userId, event: 'dots', messageId: `dots-${randomUUID()}`, timestamp: '2024-02-29T12:00:00Z' }));
    const res = await fetch(`${p.ingest.url}/v1/batch`, { method: 'POST', headers: { authorization: BASIC, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
    expect(res.status).toBe(200);
    const view = `http://127.0.0.1:${wide.server.port}`;
    for (const [i, id] of ids.entries()) {
      const got = await until(`GraphQL ${id}`, () => graphql(view, id, GQL.fast), batch[i]!.messageId);
      expect(got.event.user_id).toBe(id);
    }
    // fetch (the WHATWG URL parser) turns /v1/users/../events into /v1/events, escaped dots too.
    expect(new URL(`${view}/v1/users/${encodeURIComponent('..')}/events`).pathname).toBe('/v1/events');
    expect(new URL(`${view}/v1/users/%2E%2E/events`).pathname).toBe('/v1/events');
  });
});
