// Awkward but valid user ids end to end (docs/contract.md, "Query API"): sent to `trackhouse start`
// through Segment's Node SDK and raw batches, read back through the paths different clients write
// (fetch with encodeURIComponent; curl with the id unencoded where a path can carry it, else
// percent-encoded as Python's quote(id, safe='') does), every page of one event (the last one older
// than QUERY_VIEW_DAYS: the view, then ClickHouse), and through GraphQL (urql, the id a variable).
// Each answer must be the rows ClickHouse holds for that user, read through the SQL port.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Analytics } from '@segment/analytics-node';
import { Client, fetchExchange, gql } from '@urql/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/localkafka/index.js';
import { sendBatch, startAllInOne, type AllInOne } from '../support/allinone.js';

const run = promisify(execFile);
const READ = { authorization: 'Bearer dev-read-key' };

/** [label, id]: each a user of its own (two that differ only by normalization, case or a space too). */
const IDS: readonly (readonly [string, string])[] = [
  ['email', 'a+b@example.com'],
  ['slash', 'org/42/user'],
  ['percent', '100%'],
  ['encoded-slash-text', 'a%2Fb'],
  ['bad-escape-text', '%zz'],
  ['query-like', 'what?x=1&y=2'],
  ['hash', 'a#b'],
  ['space', 'John Smith'],
  ['dots-inside', 'a/../b'],
  ['dot-slash', './x'],
  ['leading-space', ' lead'],
  ['lead', 'lead'],
  ['trailing-space', 'trail '],
  ['spaces', '   '],
  ['1 KB', 'L'.repeat(1024)],
  ['4 KB', 'M'.repeat(4096)],
  ['254 B', 'b'.repeat(254)],
  ['255 B', 'b'.repeat(255)],
  ['260 B non-ASCII', 'é'.repeat(130)],
  ['NFC', 'José'.normalize('NFC')],
  ['NFD', 'José'.normalize('NFD')],
  ['angstrom sign', '\u212B'],
  ['A with ring', '\u00C5'],
  ['emoji', '👩‍💻🚀'],
  ['RTL', 'مرحبا\u200Fعالم'],
  ['CJK', '用户一号'],
  ['007', '007'],
  ['quotes', 'he said "hi" \'x\''],
  ['backslashes', 'back\\slash\\'],
  ['tab and newline', 'a\tb\nc'],
  ['sub-delims', "a;b,c=d!$&'()*"],
  ['brackets', '[::1]{x}<y>|^`'],
  ['unreserved', '~user_name-1.2'],
  ['NBSP', 'a\u00A0b'],
  ['zero-width space', 'a\u200Bb'],
  ['upper case', 'CaseUser'],
  ['lower case', 'caseuser'],
  ['Turkish', 'İstanbul ı'],
  ['NUL', 'a\u0000b'],
  ['the word null', 'null'],
  ['plus', '+'],
  ['colon', 'urn:user:1'],
];

/** Sent as JSON numbers and strings: the users they are stored as, and the events of each. */
const NUMERIC_TEXT = [
  '{"type":"track","userId":7,"event":"n","messageId":"num-7"}',
  '{"type":"track","userId":7.0,"event":"n","messageId":"num-7.0"}',
  '{"type":"track","userId":"7","event":"n","messageId":"str-7"}',
  '{"type":"track","userId":1e3,"event":"n","messageId":"num-1e3"}',
  '{"type":"track","userId":12345678901234567890,"event":"n","messageId":"num-wide"}',
  '{"type":"track","anonymousId":123,"event":"n","messageId":"num-anon"}',
];
const NUMERIC_USERS: Record<string, string[]> = {
  '7': ['str-7', 'num-7.0', 'num-7'],
  '1000': ['num-1e3'],
  '12345678901234567890': ['num-wide'],
  '123': ['num-anon'],
};

/** What a path can carry unencoded (curl sends it as given): no space, control, %, /, ?, #, or dot segment. */
const carriedRaw = (id: string) => !/[\s\u0000-\u001f\u007f%/?#\\]/.test(id) && id !== '.' && id !== '..';
/** Python's quote(id, safe=''): all but letters, digits and `_.-~` percent-encoded. */
const pythonQuote = (id: string) => encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

describe('awkward user ids, from the SDK to every client', () => {
  let aio: AllInOne;
  let sqlUrl = '';
  /** Every user's event ids as ClickHouse holds them, newest first. */
  const stored = new Map<string, string[]>();
  const users = [...IDS.map(([, id]) => id), ...IDS.map(([, id]) => `anon:${id}`), ...Object.keys(NUMERIC_USERS)];

  const clickhouse = async (id: string): Promise<string[]> => {
    const sql = 'SELECT DISTINCT event_id, timestamp FROM events WHERE user_key = {u:String} ORDER BY timestamp DESC, event_id DESC FORMAT JSONEachRow';
    const res = await fetch(`${sqlUrl}/?param_u=${encodeURIComponent(id)}`, { method: 'POST', body: sql, headers: { authorization: `Basic ${Buffer.from('x:dev-read-key').toString('base64')}` } });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return text.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { event_id: string }).event_id);
  };

  /** Every page of one event through `path` (the id as some client writes it), by `get`. */
  const pages = async (get: (url: string) => Promise<{ status: number; text: string }>, path: string): Promise<string[] | string> => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r = await get(`${aio.queryUrl}/v1/users/${path}/events?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (r.status !== 200) return `${r.status} ${r.text.slice(0, 200)}`;
      const body = JSON.parse(r.text) as { events: { event_id: string }[]; next_cursor: string | null };
      seen.push(...body.events.map((e) => e.event_id));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    return seen;
  };
  const byFetch = async (url: string) => {
    const res = await fetch(url, { headers: READ });
    return { status: res.status, text: await res.text() };
  };
  const byCurl = async (url: string) => {
    // --globoff: [ ] { } are the id's, not curl's URL globbing.
    const { stdout } = await run('curl', ['-s', '--globoff', '-H', `authorization: ${READ.authorization}`, '-w', '\n%{http_code}', url], { maxBuffer: 1 << 24 });
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), text: stdout.slice(0, cut) };
  };

  beforeAll(async () => {
    const biPort = await freePort();
    sqlUrl = `http://127.0.0.1:${biPort}`;
    aio = await startAllInOne('user-ids', { BI_PORT: String(biPort), KAFKA_PARTITIONS: '4' });
    const old = new Date(Date.now() - 120 * 86_400_000).toISOString();
    const sdk = new Analytics({ writeKey: 'dev-write-key', host: aio.ingestUrl, maxEventsInBatch: 20, flushInterval: 100 });
    for (const [label, id] of IDS) {
      sdk.track({ userId: id, event: `sdk ${label}`, messageId: `sdk/${label}?#% ${id.slice(0, 40)}`, properties: { label } });
      sdk.track({ anonymousId: `anon:${id}`, event: `sdk anon ${label}`, messageId: `sdk-anon/${label}`, properties: { label } });
    }
    await sdk.closeAndFlush({ timeout: 60_000 });
    const raw = IDS.flatMap(([label, id]) => [
      { type: 'track', userId: id, event: `raw ${label}`, messageId: `raw/${label}+ü` },
      // Older than the view keeps (QUERY_VIEW_DAYS 90): its page comes from ClickHouse.
      { type: 'identify', userId: id, messageId: `old/${label}`, timestamp: old, traits: { label } },
    ]);
    for (let i = 0; i < raw.length; i += 25) await sendBatch(aio.ingestUrl, raw.slice(i, i + 25));
    await sendBatch(aio.ingestUrl, `[${NUMERIC_TEXT.join(',')}]`);
    const total = IDS.length * 4 + NUMERIC_TEXT.length;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await fetch(sqlUrl, { method: 'POST', body: 'SELECT uniqExact(event_id) FROM events', headers: { authorization: `Basic ${Buffer.from('x:dev-read-key').toString('base64')}` } });
      if (res.status === 200 && Number((await res.text()).trim()) === total) break;
      if (Date.now() > deadline) throw new Error(`ClickHouse did not get all ${total} events in time`);
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const u of users) stored.set(u, await clickhouse(u));
  });
  afterAll(async () => {
    await aio?.stop('SIGTERM');
  });

  it('stores each id as sent: one user each, whatever differs (normalization, case, spaces); numbers as their decimal text', () => {
    for (const [label, id] of IDS) {
      expect(stored.get(id)!.length, label).toBe(3);
      expect(stored.get(`anon:${id}`), label).toEqual([`sdk-anon/${label}`]);
    }
    for (const [user, events] of Object.entries(NUMERIC_USERS)) expect(stored.get(user), user).toEqual(events);
  });

  it('answers each user as ClickHouse holds them: fetch with encodeURIComponent, curl unencoded or as Python quotes, every page', async () => {
    for (const u of users) {
      const want = stored.get(u)!;
      expect(await pages(byFetch, encodeURIComponent(u)), `fetch ${JSON.stringify(u.slice(0, 40))}`).toEqual(want);
      const curlPath = carriedRaw(u) ? u : pythonQuote(u);
      expect(await pages(byCurl, curlPath), `curl ${curlPath.slice(0, 60)}`).toEqual(want);
    }
    // '+' unencoded is a plus, %2F a slash of the id, and both cases of the hex digits are read.
    expect(await pages(byCurl, 'a+b@example.com')).toEqual(stored.get('a+b@example.com'));
    expect(await pages(byCurl, 'org%2f42%2Fuser')).toEqual(stored.get('org/42/user'));
  });

  it('answers each user through GraphQL (urql, the id a variable) as ClickHouse holds them', async () => {
    const client = new Client({ url: `${aio.queryUrl}/graphql`, exchanges: [fetchExchange], requestPolicy: 'network-only', fetchOptions: { headers: READ } });
    const PAGE = gql`
      query ($id: String!, $after: String) {
        user(id: $id) { events(first: 2, after: $after) { edges { node { eventId userId anonymousId } } pageInfo { hasNextPage endCursor } } }
      }
    `;
    type Page = { user: { events: { edges: { node: { eventId: string; userId: string | null; anonymousId: string | null } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } };
    for (const u of users) {
      const seen: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 5; i++) {
        const r: { data?: Page; error?: unknown } = await client.query<Page>(PAGE, { id: u, after }).toPromise();
        expect(r.error, u.slice(0, 40)).toBeUndefined();
        const events: Page['user']['events'] = r.data!.user.events;
        for (const { node } of events.edges) {
          expect(node.userId ?? node.anonymousId).toBe(u);
          seen.push(node.eventId);
        }
        if (!events.pageInfo.hasNextPage) break;
        after = events.pageInfo.endCursor;
      }
      expect(seen, `GraphQL ${JSON.stringify(u.slice(0, 40))}`).toEqual(stored.get(u));
    }
  });

  it('refuses an id longer than the ingest stores (8192 UTF-16 units) with 400 on userId, REST and GraphQL', async () => {
    for (const id of ['O'.repeat(8193), '😀'.repeat(4097)]) {
      const rest = await byFetch(`${aio.queryUrl}/v1/users/${encodeURIComponent(id)}/events`);
      expect(rest.status).toBe(400);
      expect(JSON.parse(rest.text)).toMatchObject({ error: 'invalid_parameter', parameter: 'userId' });
    }
    const res = await fetch(`${aio.queryUrl}/graphql`, {
      method: 'POST',
      headers: { ...READ, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query ($id: String!) { user(id: $id) { events { edges { node { eventId } } } } }', variables: { id: 'O'.repeat(8193) } }),
    });
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('invalid_parameter');
  });
});
