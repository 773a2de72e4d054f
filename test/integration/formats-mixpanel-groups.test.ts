// Mixpanel's group profile updates (`/groups`) from Mixpanel's own SDKs, unchanged: the mixpanel
// npm client's `groups.*` and the Python SDK's `group_*` calls, and the wire forms and refusals
// over plain HTTP. Each update is a group event of the group (user id `$<group_key>_<group_id>`)
// in Kafka and in ClickHouse (ingest -> Kafka -> sink -> chDB -> query API).
import { randomUUID } from 'node:crypto';
import Mixpanel from 'mixpanel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wideId } from '../support/hostile-json.js';
import { runPythonScript } from '../support/python-clients.js';
import { TopicReader, WRITE_KEY } from './ingest-support.js';
import { startPipeline, type ApiEvent, type Pipeline } from './pipeline-support.js';
import { describeWithPython } from './python-suite.js';

let p: Pipeline;
let events: TopicReader;

beforeAll(async () => {
  p = await startPipeline();
  events = await new TopicReader(p.ingest.kafka, [p.ingest.config.kafka.topics.events]).start();
}, 120_000);

afterAll(async () => {
  await events?.stop();
  await p?.close();
});

/** The group's updates as the query API answers them, oldest first (they differ in `properties`). */
async function updatesOf(groupUser: string, want: number): Promise<ApiEvent[]> {
  return (await p.eventsOf(groupUser, want)).reverse();
}

/** The group's rows in ClickHouse: how many, and of which type and group id; and its rollup by group. */
async function stored(groupUser: string, groupId: string) {
  const rows = await p.clickhouse.query({
    query: 'SELECT type, group_id, count() AS n FROM events WHERE user_id = {u:String} GROUP BY type, group_id',
    query_params: { u: groupUser },
    format: 'JSONEachRow',
  });
  const rollup = await p.clickhouse.query({
    query: 'SELECT sum(events) AS events, max(users) AS users FROM events_daily_by_group_v WHERE group_id = {g:String}',
    query_params: { g: groupId },
    format: 'JSONEachRow',
  });
  return { rows: await rows.json(), rollup: await rollup.json() };
}

describe('the mixpanel npm client', () => {
  it('groups.set, set_once, union, remove, unset and delete_group are answered 1 and stored as group events of the group', async () => {
    const groupId = `Acme ${randomUUID()}`;
    const groupUser = `$company_${groupId}`;
    const port = Number(new URL(p.ingest.url).port);
    // `port` is read by the client but missing from its type definitions; verbose: its JSON answers.
    const plain = Mixpanel.init(WRITE_KEY, { host: '127.0.0.1', port, protocol: 'http' } as Parameters<typeof Mixpanel.init>[1]);
    const verbose = Mixpanel.init(WRITE_KEY, { host: '127.0.0.1', port, protocol: 'http', verbose: true } as Parameters<typeof Mixpanel.init>[1]);
    const call = (f: (cb: (err: Error | undefined) => void) => void) => new Promise<void>((resolve, reject) => f((err) => (err ? reject(err) : resolve())));
    // One after another: each is its own GET /groups?data=..., and their order is the profile's.
    // The client takes $time as a Date or Unix ms (utils.js ensure_timestamp), its types say string.
    const at = { $time: new Date('2026-11-20T10:00:00Z') } as unknown as { $time: string };
    await call((cb) => plain.groups.set('company', groupId, { name: 'Acme', employees: 40 }, at, cb));
    await call((cb) => verbose.groups.set_once('company', groupId, { founded: 1999 }, cb));
    await call((cb) => plain.groups.union('company', groupId, { tags: ['b2b', 'eu'] }, cb));
    await call((cb) => plain.groups.remove('company', groupId, { tags: 'eu' }, cb));
    await call((cb) => plain.groups.unset('company', groupId, 'legacy', cb));
    await call((cb) => verbose.groups.delete_group('company', groupId, cb));

    // Kafka: six group events, keyed by the group's user id (one partition, in order).
    const landed = await events.waitFor(p.ingest.config.kafka.topics.events, 6, (r) => r.key === groupUser);
    const records = landed.map((r) => events.codec.decode(r.value));
    expect(new Set(landed.map((r) => r.partition)).size).toBe(1);
    expect(records.map((r) => [r.type, r.group_id, r.user_id, r.anonymous_id, r.source])).toEqual(Array(6).fill(['group', groupId, groupUser, null, 'test']));
    expect(records.map((r) => JSON.parse(r.properties))).toEqual([{}, {}, { $union: { tags: ['b2b', 'eu'] } }, { $remove: { tags: 'eu' } }, { $unset: ['legacy'] }, { $delete: '' }]);
    expect(records[0]!.timestamp).toBe(Date.parse('2026-11-20T10:00:00Z'));

    // The query API and ClickHouse: the same six, with their traits and context.groups.
    const got = await updatesOf(groupUser, 6);
    expect(got.map((e) => e.traits)).toEqual([{ name: 'Acme', employees: 40 }, { founded: 1999 }, {}, {}, {}, {}]);
    // The client sends ip=0 (its requests come from the site's server): no address is kept.
    for (const e of got) expect(e.context).toEqual({ groups: { company: groupId } });
    expect(await stored(groupUser, groupId)).toEqual({ rows: [{ type: 'group', group_id: groupId, n: 6 }], rollup: [{ events: 6, users: 1 }] });
  });
});

describe('over HTTP', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64');
  const send = async (method: 'GET' | 'POST', path: string, body?: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${p.ingest.url}${path}`, { method, body, headers });
    return { status: res.status, text: await res.text() };
  };

  it('takes a JSON array and a base64 form on /groups/, keeps the valid updates of a batch and writes each invalid one to the rejected topic with its reason', async () => {
    const groupId = `grp-${randomUUID()}`;
    const groupUser = `$team_${groupId}`;
    const ok = await send('POST', '/groups/', `data=${encodeURIComponent(b64({ $token: WRITE_KEY, $group_key: 'team', $group_id: groupId, $set: { size: 3 } }))}`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    const mixed = await send(
      'POST',
      '/groups?verbose=1',
      JSON.stringify([
        { $token: WRITE_KEY, $group_key: 'team', $group_id: groupId, $union: { tools: ['git'] } },
        { $token: WRITE_KEY, $group_id: groupId, $set: { lost: 1 } },
        { $token: WRITE_KEY, $group_key: 'team', $set: { lost: groupId } },
      ]),
      { 'content-type': 'application/json' },
    );
    expect([ok.status, ok.text, mixed.status]).toEqual([200, '1', 400]);
    expect(JSON.parse(mixed.text)).toEqual({ status: 0, error: '2 of 3 events are invalid (event 1: $group_key is required (the kind of group, e.g. "company")); the other 1 were accepted' });
    const got = await updatesOf(groupUser, 2);
    expect(got.map((e) => [e.type, e.group_id, e.traits, e.properties])).toEqual([
      ['group', groupId, { size: 3 }, {}],
      ['group', groupId, {}, { $union: { tools: ['git'] } }],
    ]);
    // In any order: the rejected topic's records may lie in different partitions.
    const rejected = (await p.rejected.waitFor(p.ingest.config.kafka.topics.rejected, 2, (r) => r.value.toString().includes(groupId))).sort((x, y) => Number(x.headers.index) - Number(y.headers.index));
    expect(rejected.map((r) => [r.headers.error_code, r.headers.index, r.headers.endpoint, JSON.parse(r.value.toString())])).toEqual([
      ['missing_field', '1', '/groups', { $token: WRITE_KEY, $group_id: groupId, $set: { lost: 1 } }],
      ['missing_id', '2', '/groups', { $token: WRITE_KEY, $group_key: 'team', $set: { lost: groupId } }],
    ]);
    expect(rejected.map((r) => r.headers.reason)).toEqual(['$group_key is required (the kind of group, e.g. "company")', '$group_id is required (the group\'s id, a string or a number)']);
  });

  it('refuses a $group_id over 8192 characters with a reason that names $group_id, not the userId it would make', async () => {
    const groupId = `long-${randomUUID()}-${'g'.repeat(8192)}`;
    const res = await send('POST', '/groups?verbose=1', JSON.stringify([{ $token: WRITE_KEY, $group_key: 'team', $group_id: groupId, $set: { a: 1 } }]), { 'content-type': 'application/json' });
    expect([res.status, JSON.parse(res.text)]).toEqual([400, { status: 0, error: '1 of 1 events are invalid (event 0: $group_id is longer than 8192 characters); the other 0 were accepted' }]);
    const [r] = await p.rejected.waitFor(p.ingest.config.kafka.topics.rejected, 1, (x) => x.value.toString().includes(groupId));
    expect([r!.headers.error_code, r!.headers.reason, r!.headers.endpoint]).toEqual(['invalid_field', '$group_id is longer than 8192 characters', '/groups']);
  });

  it('refuses an unknown token with 401 "0" (or {"status":0} with verbose=1), as /engage does, storing nothing', async () => {
    const groupId = `nokey-${randomUUID()}`;
    const data = encodeURIComponent(b64({ $token: 'not-a-key', $group_key: 'team', $group_id: groupId, $set: { a: 1 } }));
    const a = await send('GET', `/groups?data=${data}`);
    const b = await send('GET', `/groups/?verbose=1&data=${data}`);
    expect([a.status, a.text, b.status, JSON.parse(b.text)]).toMatchObject([401, '0', 401, { status: 0, error: expect.any(String) }]);
    // A known update sent after them is stored alone.
    const c = await send('GET', `/groups?data=${encodeURIComponent(b64({ $token: WRITE_KEY, $group_key: 'team', $group_id: groupId, $set: { a: 2 } }))}`);
    expect([c.status, c.text]).toEqual([200, '1']);
    // The group's records share a key, so a partition, in the order produced: had the refused
    // ones been written, they would have landed before this one.
    const key = `$team_${groupId}`;
    await events.waitFor(p.ingest.config.kafka.topics.events, 1, (r) => r.key === key);
    expect(events.records.filter((r) => r.key === key).map((r) => events.codec.decode(r.value).traits)).toEqual(['{"a":2}']);
    expect((await p.eventsOf(key, 1)).map((e) => e.traits)).toEqual([{ a: 2 }]);
  });
});

describeWithPython('the mixpanel Python SDK', (python) => {
  it('group_set, group_set_once, group_union, group_remove, group_unset and group_delete are answered {"status":1} and stored, a 64-bit group id with every digit', async () => {
    const groupId = wideId();
    const groupUser = `$company_${groupId}`;
    const employees = wideId();
    const time = Date.parse('2026-11-27T10:00:00.123Z');
    const args = `{"host": "${p.ingest.url}", "writeKey": "${WRITE_KEY}", "groupKey": "company", "groupId": ${groupId}, "employees": ${employees}, "time": ${time}}`;
    const answer = await runPythonScript<{ errors: string[] }>(python, 'mixpanel-groups.py', args);
    expect(answer.errors).toEqual([]);

    const landed = await events.waitFor(p.ingest.config.kafka.topics.events, 6, (r) => r.key === groupUser);
    const records = landed.map((r) => events.codec.decode(r.value));
    expect(records.map((r) => [r.type, r.group_id, r.user_id])).toEqual(Array(6).fill(['group', groupId, groupUser]));
    expect(records.map((r) => r.traits)).toEqual([`{"name":"Acme","employees":${employees}}`, '{"founded":1999}', '{}', '{}', '{}', '{}']);
    expect(records.map((r) => JSON.parse(r.properties))).toEqual([{}, {}, { $union: { tags: ['b2b', 'eu'] } }, { $remove: { tags: 'eu' } }, { $unset: ['legacy'] }, { $delete: '' }]);
    // $time (Unix ms) is the time, as sent (Mixpanel sends no send time); ip=0, so no address.
    expect(records[0]!.timestamp).toBe(time);
    for (const r of records) expect(JSON.parse(r.context)).toEqual({ groups: { company: groupId } });
    await updatesOf(groupUser, 6);
    expect(await stored(groupUser, groupId)).toEqual({ rows: [{ type: 'group', group_id: groupId, n: 6 }], rollup: [{ events: 6, users: 1 }] });
  });
});
