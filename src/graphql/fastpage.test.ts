import { parse, specifiedRules, validate, type DocumentNode } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { describe, expect, it } from 'vitest';
import { randomOperation, rng, slowOf, type Rng } from '../../test/support/graphql-selections.js';
import { silentLogger } from '../common/log.js';
import { cursorsOf, type EventsRequest, type QueryReader, type ViewPage } from '../query/index.js';
import type { EventRecord } from '../schema/index.js';
import { ROW_CANONICAL, ROW_HEADER, ROW_NO_LAYOUT, storedEvent } from '../view/render.js';
import { restoreDigits } from './exactjson.js';
import { planFastPage, writeFastPage } from './fastpage.js';
import { buildGraphqlSchema } from './schema.js';

const LIMITS = { defaultLimit: 5, maxLimit: 100 };

/**
 * A page of stored rows as the view reader holds them after a read (reply JSON after `{"events":`
 * and commas, headers apart), with `spare` bytes of the reader's buffer free past them.
 */
function pageOf(stored: Buffer[], times: number[], hasNext: boolean, spare = 0): ViewPage {
  const prefix = Buffer.from('{"events":');
  const parts: Buffer[] = [prefix];
  const ends: number[] = [];
  let at = prefix.length;
  for (const s of stored) {
    parts.push(Buffer.from(','), s.subarray(ROW_HEADER));
    at += 1 + s.length - ROW_HEADER;
    ends.push(at);
  }
  const buffer = Buffer.concat([...parts, Buffer.alloc(spare)]);
  const rowHeaders = Buffer.concat(stored.map((s) => s.subarray(0, ROW_HEADER)));
  const rows = {
    buffer,
    rowHeaders,
    start: (i: number) => (i === 0 ? prefix.length : ends[i - 1]!) + 1,
    end: (i: number) => ends[i]!,
    time: (i: number) => times[i]!,
  };
  return { rows: rows as never, count: stored.length, hasNext };
}

/** A reader whose every page is these events: from the view (viewPage) and as REST's body (events). */
function readerOf(events: EventRecord[], hasNext: boolean, seen: EventsRequest[], spare = 0): QueryReader {
  const stored = events.map((e) => storedEvent(e));
  return {
    limits: LIMITS,
    viewPage(r) {
      seen.push(r);
      return pageOf(stored, events.map((e) => e.timestamp), hasNext, spare);
    },
    events(r) {
      const rows = stored.map((s) => s.subarray(ROW_HEADER).toString('utf8'));
      const last = events.at(-1);
      const next = hasNext && last ? JSON.stringify(cursorsOf(r)(last.timestamp, last.event_id)) : 'null';
      return Buffer.from(`{"events":[${rows.join(',')}],"next_cursor":${next}}`);
    },
    rollups: () => Promise.reject(new Error('not here')),
  };
}

const ODD = ['{"a":"\\ud83d\\ude00"}', '{"a": 1}', '{"b":1,"a":2}', '{"1":1,"a":2}', '{"a":1,"a":2}', '{"n":1.50}', '{"n":1e2}', '{"s":"\\/"}', '{"s":"\\u001f\\u001F"}', '{"n":-0}', '[1,2.5,-3e-7,"é😀"]', '"x"', '12345678901234567890', '{"id":12345678901234567891,"n":-9223372036854775808,"s":"12345678901234567891"}', 'not json', '', '\ufeff{"bom":1}', '{"deep":{"a":[{"b":null,"c":true}]}}'];

function randomEvent(r: Rng, i: number): EventRecord {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const str = () => pick(['plain', 'ünï "q"', 'tab\there', 'emoji 😀', 'back\\slash', 'line\nbreak', 'x'.repeat(80)]);
  const opt = () => (r() < 0.3 ? null : r() < 0.1 ? '' : str());
  const json = () => (r() < 0.5 ? JSON.stringify({ i, p: r() * 100, s: str(), t: [1, 'a', null] }) : pick(ODD));
  const ts = Date.UTC(2026, 0, 1) + Math.floor(r() * 1e9);
  return {
    event_id: r() < 0.2 ? `id-${i}-"odd"\u00e9\\` : `e${i}`,
    type: pick(['track', 'identify', 'page', 'screen', 'group', 'alias'] as const),
    event: opt(),
    user_id: opt(),
    anonymous_id: opt(),
    timestamp: ts,
    sent_at: null,
    received_at: ts + 5,
    source: str(),
    category: opt(),
    group_id: opt(),
    name: opt(),
    previous_id: opt(),
    properties: json(),
    traits: json(),
    context: json(),
  };
}

describe('the fast page', () => {
  it('writes, for random selections over odd rows, the bytes graphql-jit answers', async () => {
    const r = rng(7);
    let fast = 0;
    // One schema over a reader that answers each round's page.
    let current = readerOf([], false, []);
    const reader: QueryReader = { limits: LIMITS, viewPage: (q) => current.viewPage(q), events: (q, rest) => current.events(q, rest), rollups: (q) => current.rollups(q) };
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    for (let n = 0; n < 300; n++) {
      const events = Array.from({ length: Math.floor(r() * 6) }, (_, i) => randomEvent(r, n * 10 + i));
      const hasNext = events.length > 0 && r() < 0.5;
      const seen: EventsRequest[] = [];
      current = readerOf(events, hasNext, seen);
      const args = { id: r() < 0.2 ? 'ünï "u"' : 'u1', ...(r() < 0.5 ? { first: 1 + Math.floor(r() * 9) } : {}), ...(r() < 0.3 ? { type: 'track' } : {}), ...(r() < 0.3 ? { event: 'Clicked' } : {}) };
      const op = randomOperation(r, args);
      const doc = parse(op.query);
      expect(validate(schema, doc, specifiedRules), op.query).toEqual([]);
      const plan = planFastPage(schema, doc, null);
      expect(plan, op.query).not.toBeNull();
      const got = writeFastPage(plan!, schema, op.variables, reader);
      expect(got, op.query).not.toBeNull();
      fast++;
      expect(got!.toString('utf8'), `${op.query} ${JSON.stringify(op.variables)}`).toBe(await executed(schema, parse(slowOf(op).query), op.variables));
      // The request it read is the one execution reads (REST's parameters from the arguments).
      expect(seen).toHaveLength(1);
      expect(seen[0]!.limit).toBe(args.first ?? LIMITS.defaultLimit);
    }
    expect(fast).toBe(300);
  });

  it('writes a page with every field in REST\'s order (renamed keys between runs of the row), with and without cursors, as graphql-jit does', async () => {
    const r = rng(11);
    let current = readerOf([], false, []);
    const reader: QueryReader = { limits: LIMITS, viewPage: (q) => current.viewPage(q), events: (q, rest) => current.events(q, rest), rollups: (q) => current.rollups(q) };
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const node = 'eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId';
    const queries = [`edges { node { ${node} } }`, `edges { cursor node { ${node} } }`, `edges { node { ${node} } cursor }`].map(
      (edges) => `query Page($id: String!, $first: Int) { user(id: $id) { events(first: $first) { ${edges} pageInfo { hasNextPage endCursor } } } }`,
    );
    for (let n = 0; n < 60; n++) {
      const events = Array.from({ length: 1 + Math.floor(r() * 5) }, (_, i) => randomEvent(r, n * 10 + i));
      current = readerOf(events, r() < 0.5, []);
      for (const q of queries) {
        const variables = { id: 'u1', first: 5 };
        const plan = planFastPage(schema, parse(q), null)!;
        const got = writeFastPage(plan, schema, variables, reader);
        expect(got, q).not.toBeNull();
        expect(got!.toString('utf8'), q).toBe(await executed(schema, parse(q.replace('user(id: $id)', 'user(id: $id) @include(if: true)')), variables));
      }
    }
  });

  it('writes integers past 2^53 in properties, traits and context as stored, as execution does (REST answers them so)', async () => {
    const WIDE = '12345678901234567891';
    const e = { ...randomEvent(rng(5), 1), properties: `{"id":${WIDE},"n":1.50}`, traits: `{"max":18446744073709551615}`, context: '{"min": -9223372036854775808}' };
    const reader = readerOf([e], false, []);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const q = 'query Page($id: String!) { user(id: $id) { events { edges { node { properties traits context } } } } }';
    const got = writeFastPage(planFastPage(schema, parse(q), null)!, schema, { id: 'u1' }, reader)!.toString('utf8');
    const want = `{"data":{"user":{"events":{"edges":[{"node":{"properties":{"id":${WIDE},"n":1.5},"traits":{"max":18446744073709551615},"context":{"min":-9223372036854775808}}}]}}}}`;
    expect(got).toBe(want);
    expect(await executed(schema, parse(q.replace('user(id: $id)', 'user(id: $id) @include(if: true)')), { id: 'u1' })).toBe(want);
  });

  it('writes the bytes graphql-jit answers when the answer outgrows the reader\'s buffer at any row (it moves, rows and all)', async () => {
    const r = rng(13);
    let current = readerOf([], false, []);
    const reader: QueryReader = { limits: { defaultLimit: 5, maxLimit: 1000 }, viewPage: (q) => current.viewPage(q), events: (q, rest) => current.events(q, rest), rollups: (q) => current.rollups(q) };
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const node = 'eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId';
    const q = `query Page($id: String!, $first: Int) { user(id: $id) { events(first: $first) { edges { cursor node { ${node} } } pageInfo { hasNextPage endCursor } } } }`;
    const plan = planFastPage(schema, parse(q), null)!;
    const events = Array.from({ length: 40 }, (_, i) => randomEvent(r, i));
    // The room each row asks for is a bound well above what it writes: spares from none to more than the answer.
    for (const spare of [0, 1, 200, 1_000, 3_000, 10_000, 30_000, 100_000, 1_000_000]) {
      current = readerOf(events, true, [], spare);
      const got = writeFastPage(plan, schema, { id: 'u1', first: 40 }, reader);
      expect(got, String(spare)).not.toBeNull();
      expect(got!.toString('utf8'), String(spare)).toBe(await executed(schema, parse(q.replace('user(id: $id)', 'user(id: $id) @include(if: true)')), { id: 'u1', first: 40 }));
    }
  });

  it('has no plan for what it cannot answer as execution does', () => {
    const reader = readerOf([], false, []);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const plan = (q: string) => planFastPage(schema, parse(q), null);
    expect(plan('{ user(id: "u") { events { edges { node { eventId } } } } }')).not.toBeNull();
    for (const q of [
      '{ user(id: "u") @include(if: true) { events { edges { node { eventId } } } } }',
      '{ user(id: "u") { events { edges { node { eventId @skip(if: false) } } } } }',
      '{ user(id: "u") { id } }',
      '{ a: user(id: "u") { events { edges { cursor } } } b: user(id: "v") { events { edges { cursor } } } }',
      '{ user(id: "u") { a: events { edges { cursor } } b: events(first: 2) { edges { cursor } } } }',
      '{ user(id: "u") { events { a: edges { cursor } b: edges { node { eventId } } } } }',
      '{ rollups(by: event) { day } user(id: "u") { events { edges { cursor } } } }',
    ]) {
      expect(validate(schema, parse(q), specifiedRules), q).toEqual([]);
      expect(plan(q), q).toBeNull();
    }
    const two = parse('query A { user(id: "u") { events { edges { cursor } } } } query B { alerts { rules { name } } }');
    expect(planFastPage(schema, two, 'A')).not.toBeNull();
    expect(planFastPage(schema, two, 'B')).toBeNull();
  });

  it('answers null, for execution to answer, when the arguments are refused or a row has no field offsets', () => {
    const e = randomEvent(rng(1), 1);
    const reader = readerOf([e], false, []);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const q = 'query($n: Int, $after: String) { user(id: "u") { events(first: $n, after: $after) { edges { node { eventId } } } } }';
    const plan = planFastPage(schema, parse(q), null)!;
    expect(writeFastPage(plan, schema, { n: 2 }, reader)).not.toBeNull();
    expect(writeFastPage(plan, schema, { n: 0 }, reader)).toBeNull(); // REST: limit out of range
    expect(writeFastPage(plan, schema, { n: 'x' }, reader)).toBeNull(); // does not coerce
    expect(writeFastPage(plan, schema, { after: 'nope' }, reader)).toBeNull(); // not a cursor
    const byId = planFastPage(schema, parse('query($id: String!) { user(id: $id) { events { edges { node { eventId } } } } }'), null)!;
    expect(writeFastPage(byId, schema, { id: 'u😀' }, reader)).not.toBeNull();
    expect(writeFastPage(byId, schema, { id: 'u\ud800' }, reader)).toBeNull(); // execution's encodeURIComponent refuses it
    const long = { ...e, properties: JSON.stringify({ big: 'x'.repeat(70_000) }) };
    const stored = storedEvent(long);
    expect(stored[0]! & ROW_NO_LAYOUT).toBe(ROW_NO_LAYOUT);
    expect(writeFastPage(plan, schema, {}, readerOf([long], false, []))).toBeNull();
  });
});

describe('the cursors\' fingerprint', () => {
  it('is REST\'s for every scope, over many users and with filters', () => {
    const e = randomEvent(rng(9), 9);
    const seen: EventsRequest[] = [];
    const reader = readerOf([e], true, seen);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const plan = planFastPage(schema, parse('query($id: String!, $type: EventType) { user(id: $id) { events(type: $type) { pageInfo { endCursor } } } }'), null)!;
    for (let pass = 0; pass < 2; pass++) {
      for (let u = 0; u < 9000; u++) {
        // Filtered scopes, and user ids that read like the text of a filtered scope asked for before.
        const vars = u % 3 === 0 ? { id: `user-${u}`, type: 'track' } : { id: u % 7 === 1 ? JSON.stringify([`user-${u - (u % 3)}`, null, null, 'track', null]) : `user-${u}` };
        const answer = JSON.parse(writeFastPage(plan, schema, vars, reader)!.toString()) as { data: { user: { events: { pageInfo: { endCursor: string } } } } };
        expect(answer.data.user.events.pageInfo.endCursor).toBe(cursorsOf(seen.at(-1)!)(e.timestamp, e.event_id));
      }
    }
  });

  it('is REST\'s for scopes whose text JSON escapes or encodes (quotes, backslashes, controls, non-ASCII) and under every filter', () => {
    const e = randomEvent(rng(10), 10);
    const seen: EventsRequest[] = [];
    const reader = readerOf([e], true, seen);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const plan = planFastPage(
      schema,
      parse('query($id: String!, $type: EventType, $event: String, $from: String, $to: String) { user(id: $id) { events(type: $type, event: $event, from: $from, to: $to) { pageInfo { endCursor } } } }'),
      null,
    )!;
    const odd = ['u', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0001', 'é', '😀', 'x'.repeat(300), '\u0001'.repeat(250), '"\\'.repeat(120), '😀'.repeat(120), '~', ' ', 'del\u007f', '[1,2]'];
    const r = rng(12);
    for (let k = 0; k < 400; k++) {
      const pick = () => odd[Math.floor(r() * odd.length)]!;
      const vars: Record<string, unknown> = { id: pick() };
      if (r() < 0.5) vars.event = pick();
      if (r() < 0.3) vars.type = 'track';
      if (r() < 0.3) vars.from = new Date(1_700_000_000_000 + Math.floor(r() * 1e9)).toISOString();
      if (r() < 0.3) vars.to = new Date(1_800_000_000_000 + Math.floor(r() * 1e9)).toISOString();
      // Some scopes asked for twice in a row (the last scope's fingerprint is reused).
      for (let again = k % 4 === 0 ? 2 : 1; again > 0; again--) {
        const reply = writeFastPage(plan, schema, vars, reader);
        expect(reply, JSON.stringify(vars)).not.toBeNull();
        const answer = JSON.parse(reply!.toString()) as { data: { user: { events: { pageInfo: { endCursor: string } } } } };
        expect(answer.data.user.events.pageInfo.endCursor, JSON.stringify(vars)).toBe(cursorsOf(seen.at(-1)!)(e.timestamp, e.event_id));
      }
    }
  });
});

describe('the edge cursors', () => {
  it('are REST\'s cursors for times of every digit in every place, at the 13-digit bounds and outside them, and ids of every length', () => {
    const r = rng(11);
    const base = randomEvent(r, 0);
    // 13 digits (the table-driven path): random, every digit value in every place, the bounds; others go the general way.
    const times = [1e12, 1e13 - 1, 999_999_999_999, 1e13, 1e13 + 7, 0, 42, 1_234_567_890_123, 9_876_543_210_987];
    for (let k = 0; k < 200; k++) times.push(1e12 + Math.floor(r() * 9e12));
    for (let d = 0; d < 10; d++) times.push(Number(`${Math.max(1, d)}${String(d).repeat(12)}`), Number(`1${'0'.repeat(11 - (d % 12))}${d}`.padEnd(13, String(d))));
    const ids = ['', 'a', 'ab', 'abc', 'abcd', 'a1b2c3d4-1000-0000-8abc-deadbeef0a1b', 'x'.repeat(100), 'é😀', 'back\\slash"q'];
    const events = times.map((t, k) => ({ ...base, timestamp: t, received_at: t, event_id: ids[k % ids.length]! }));
    const seen: EventsRequest[] = [];
    const reader = readerOf(events, false, seen);
    const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
    const plan = planFastPage(schema, parse('query { user(id: "u") { events(first: 100) { edges { cursor node { eventId } } pageInfo { startCursor endCursor } } } }'), null)!;
    const answer = JSON.parse(writeFastPage(plan, schema, {}, reader)!.toString()) as { data: { user: { events: { edges: { cursor: string }[]; pageInfo: { startCursor: string; endCursor: string } } } } };
    const cursor = cursorsOf(seen[0]!);
    expect(answer.data.user.events.edges.map((e) => e.cursor)).toEqual(events.map((e) => cursor(e.timestamp, e.event_id)));
    expect(answer.data.user.events.pageInfo.endCursor).toBe(cursor(events.at(-1)!.timestamp, events.at(-1)!.event_id));
  });
});

describe('the type check', () => {
  it('writes a page whose every type is an EventType value, and refuses one differing in any byte or its length', () => {
    const e = randomEvent(rng(5), 5);
    const q = 'query { user(id: "u") { events { edges { node { type } } } } }';
    const answer = (type: string) => {
      const reader = readerOf([{ ...e, type: 'track' }, { ...e, type: type as EventRecord['type'] }], false, []);
      const schema = buildGraphqlSchema({ reader, stream: null, log: silentLogger() });
      return writeFastPage(planFastPage(schema, parse(q), null)!, schema, {}, reader);
    };
    for (const t of ['track', 'identify', 'page', 'screen', 'group', 'alias']) expect(answer(t)?.toString()).toBe(`{"data":{"user":{"events":{"edges":[{"node":{"type":"track"}},{"node":{"type":"${t}"}}]}}}}`);
    // Each valid value with one byte changed (first, middle, last), cut short or made longer, and other cases.
    const near = ['trac', 'tracks', 'Track', 'trAck', 'tracK', 'idEntify', 'identifY', 'idenXify', 'identif', 'pag', 'pagee', 'screeN', 'scrEen', 'Group', 'aliaz', '', 'x'];
    for (const t of near) expect(answer(t), t).toBeNull();
  });
});

describe('the stored row', () => {
  it('says where each value lies and which JSON texts are canonical', () => {
    const e = randomEvent(rng(3), 3);
    const rec = { ...e, event_id: 'é"1', properties: '{"a": 1}', traits: '{"b":[1,"é"]}', context: 'bad' };
    const s = storedEvent(rec);
    const json = s.subarray(ROW_HEADER);
    const at = (k: number) => s.readUInt16LE(1 + 2 * k);
    // Offsets are bytes (é is two), each value is the field's reply JSON.
    const reply = JSON.parse(json.toString('utf8')) as Record<string, unknown>;
    expect(json.toString('utf8', at(0), at(1) - ',"type":'.length)).toBe(JSON.stringify('é"1'));
    expect(json.toString('utf8', at(10), at(11) - ',"traits":'.length)).toBe('{"a": 1}');
    expect(json.toString('utf8', at(11), at(12) - ',"context":'.length)).toBe('{"b":[1,"é"]}');
    expect(json.toString('utf8', at(12), at(13) - ',"name":'.length)).toBe('null');
    expect(reply.context).toBeNull();
    // properties has a space: not canonical; traits is; context is null (canonical).
    expect(s[0]).toBe((ROW_CANONICAL << 1) | (ROW_CANONICAL << 2));
  });
});

/** The operation executed as the server executes it (graphql-jit, then JSON.stringify, integers past 2^53 written back). */
async function executed(schema: ReturnType<typeof buildGraphqlSchema>, doc: DocumentNode, variables: Record<string, unknown>): Promise<string> {
  const c = compileQuery(schema, doc, undefined);
  if (!isCompiledQuery(c)) throw new Error('not compiled');
  const digits: string[] = [];
  return restoreDigits(JSON.stringify(await c.query(undefined, { authorization: '', digits }, variables)), digits);
}


