// Vendors' export lines through the import's encoder (translation, normalizeEvent, Avro) and
// back: the stored times, ids and properties are the vendor's, not the import's.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventCodec, type EventRecord } from '../schema/index.js';
import { parseCsvMapping } from './csvmap.js';
import { ChunkEncoder } from './encoder.js';
import type { ItemFormat } from './formats.js';
import { jsonItems, type Item } from './items.js';

const codec = new EventCodec();

function encode(format: ItemFormat, lines: unknown[], mixpanelTimezone: string | null = null, mixpanelGroupKey: string | null = null): { events: EventRecord[]; rejects: Record<string, string>[] } {
  return encodeItems(format, lines.map((l, pos) => ({ pos, text: typeof l === 'string' ? l : JSON.stringify(l) })), mixpanelTimezone, mixpanelGroupKey);
}

function encodeItems(format: ItemFormat, items: Item[], mixpanelTimezone: string | null = null, mixpanelGroupKey: string | null = null): { events: EventRecord[]; rejects: Record<string, string>[] } {
  const enc = new ChunkEncoder(codec, {
    rejectedTopic: 'rejected', maxEventBytes: 32 * 1024, source: 'history', csv: parseCsvMapping(undefined, 'track'), mixpanelTimezone, mixpanelGroupKey, refusesImport: () => null,
  });
  enc.setInput('file-id', 'export.ndjson');
  for (const item of items) enc.item(format, item);
  const c = enc.take(0, items.length, true, 0);
  const events: EventRecord[] = [];
  let start = 0;
  for (const end of c.ends) {
    events.push(codec.decode(new Uint8Array(c.data, start, end - start)));
    start = end;
  }
  return { events, rejects: c.rejects.map((r) => r.headers) };
}

const iso = (t: number | bigint) => new Date(Number(t)).toISOString();

/** An Amplitude Export API line (https://amplitude.com/docs/apis/analytics/export, "Response schema"). */
const AMPLITUDE_EXPORT = {
  $insert_id: 'a1b2c3d4-insert',
  $schema: 12,
  amplitude_id: 987654321012,
  app: 123456,
  city: 'Berlin',
  client_event_time: '2024-01-01 11:59:58.100000',
  client_upload_time: '2024-01-01 12:00:01.000000',
  country: 'Germany',
  data: {},
  device_carrier: null,
  device_id: 'device-12345',
  event_id: 7,
  event_properties: { plan: 'pro' },
  event_time: '2024-01-01 12:00:00.123000',
  event_type: 'Signed Up',
  groups: {},
  ip_address: '203.0.113.9',
  language: 'German',
  library: 'amplitude-ts/2.1.0',
  os_name: 'Chrome',
  os_version: '120',
  platform: 'Web',
  processed_time: '2024-01-01 12:00:05.000000',
  server_received_time: '2024-01-01 12:00:02.000000',
  server_upload_time: '2024-01-01 12:00:02.500000',
  session_id: 1704110398000,
  user_id: 'user-12345',
  user_properties: { email: 'a@example.com' },
  uuid: '6f1c0c2e-0000-4000-8000-000000000001',
  version_name: '1.2.3',
};

describe('import of vendor exports', () => {
  it('Amplitude Export API lines: event_time (UTC) as the time, $insert_id (else uuid) as the id, ip_address and version_name kept', () => {
    const { events, rejects } = encode('amplitude', [
      AMPLITUDE_EXPORT,
      { ...AMPLITUDE_EXPORT, $insert_id: null, event_time: '2023-06-30 23:59:59.999999', session_id: -1 },
      { ...AMPLITUDE_EXPORT, event_time: 'soon' },
      // An HTTP API event in the same file is read as before.
      { event_type: 'Live', user_id: 'user-12345', time: Date.UTC(2022, 0, 1), insert_id: 'live-1' },
    ]);
    expect(rejects.map((r) => r.error_code)).toEqual(['invalid_timestamp']);
    expect(rejects[0]!.index).toBe('2');
    expect(events.map((e) => [e.event, e.event_id, iso(e.timestamp), e.user_id, e.anonymous_id])).toEqual([
      ['Signed Up', 'a1b2c3d4-insert', '2024-01-01T12:00:00.123Z', 'user-12345', 'device-12345'],
      ['Signed Up', '6f1c0c2e-0000-4000-8000-000000000001', '2023-06-30T23:59:59.999Z', 'user-12345', 'device-12345'],
      ['Live', 'live-1', '2022-01-01T00:00:00.000Z', 'user-12345', null],
    ]);
    expect(JSON.parse(events[0]!.properties)).toEqual({ plan: 'pro' });
    expect(JSON.parse(events[0]!.traits)).toEqual({ email: 'a@example.com' });
    const ctx = JSON.parse(events[0]!.context) as Record<string, unknown>;
    expect(ctx).toMatchObject({ ip: '203.0.113.9', app: { version: '1.2.3' }, sessionId: 1704110398000, eventNumber: 7, library: { name: 'amplitude-ts', version: '2.1.0' } });
    expect((JSON.parse(events[1]!.context) as Record<string, unknown>).sessionId).toBeUndefined();
  });

  it('Amplitude Export API lines in a JSON array are read the same', () => {
    const { events } = encode('amplitude', [JSON.stringify([AMPLITUDE_EXPORT, { ...AMPLITUDE_EXPORT, $insert_id: 'second' }])]);
    expect(events.map((e) => [e.event_id, iso(e.timestamp)])).toEqual([
      ['a1b2c3d4-insert', '2024-01-01T12:00:00.123Z'],
      ['second', '2024-01-01T12:00:00.123Z'],
    ]);
  });

  it('Mixpanel raw export lines: properties.time in seconds (or ms with time_in_ms), $insert_id as the id', () => {
    // https://docs.mixpanel.com/docs/export-methods ("Example payload")
    const { events } = encode('mixpanel', [
      { event: 'Signed up', properties: { time: 1602611311, $insert_id: 'hpuDqcvpltpCjBsebtxwadtEBDnFAdycabFb', mp_processing_time_ms: 1602625711874, distinct_id: 'user123', $device_id: 'dev-1', $user_id: 'user123' } },
      { event: 'Purchase', properties: { time: 1602787121456, $insert_id: 'ms-1', mp_processing_time_ms: 1602787122000, distinct_id: '$device:dev-2' } },
    ]);
    expect(events.map((e) => [e.event, e.event_id, iso(e.timestamp), e.user_id, e.anonymous_id])).toEqual([
      ['Signed up', 'hpuDqcvpltpCjBsebtxwadtEBDnFAdycabFb', '2020-10-13T17:48:31.000Z', 'user123', 'dev-1'],
      ['Purchase', 'ms-1', '2020-10-15T18:38:41.456Z', null, 'dev-2'],
    ]);
  });

  it('Mixpanel raw export of a project created before 2023: --mixpanel-timezone reads time as the project\'s wall clock', () => {
    // https://mixpanel.com/help/reference/exporting-raw-data ("API details"): seconds "in your project's timezone, not UTC".
    // 10:48:31 on the clock of a US/Pacific project (PDT, UTC-7) is 17:48:31 UTC; 04:00 in January (PST) is 12:00 UTC.
    const lines = [
      { event: 'Signed up', properties: { time: Date.UTC(2020, 9, 13, 10, 48, 31) / 1000, $insert_id: 'tz-1', distinct_id: 'user123' } },
      { event: 'Signed up', properties: { time: Date.UTC(2020, 0, 15, 4, 0, 0), $insert_id: 'tz-2', distinct_id: 'user123' } },
    ];
    expect(encode('mixpanel', lines, 'US/Pacific').events.map((e) => iso(e.timestamp))).toEqual(['2020-10-13T17:48:31.000Z', '2020-01-15T12:00:00.000Z']);
    expect(encode('mixpanel', lines).events.map((e) => iso(e.timestamp))).toEqual(['2020-10-13T10:48:31.000Z', '2020-01-15T04:00:00.000Z']);
  });

  it('--format mixpanel-groups: a group update line (as /groups takes it) becomes a group event with its group id and traits', () => {
    // As the mixpanel npm client's groups.set sends it; $group_id as a number is read as its digits.
    const { events, rejects } = encode('mixpanel-groups', [
      { $token: 'tok', $group_key: 'company', $group_id: 'Acme Inc.', $set: { plan: 'enterprise', seats: 40 }, $set_once: { plan: 'trial', founded: 1999 }, $time: 1704110400000 },
      '{"$token":"tok","$group_key":"company","$group_id":9007199254740993,"$set":{"plan":"free"}}',
      { $token: 'tok', $group_id: 'no-key', $set: { plan: 'free' } },
    ]);
    expect(events.map((e) => [e.type, e.group_id, e.user_id, JSON.parse(e.traits)])).toEqual([
      ['group', 'Acme Inc.', '$company_Acme Inc.', { plan: 'enterprise', seats: 40, founded: 1999 }],
      ['group', '9007199254740993', '$company_9007199254740993', { plan: 'free' }],
    ]);
    expect(iso(events[0]!.timestamp)).toBe('2024-01-01T12:00:00.000Z');
    expect(rejects.map((r) => [r.error_code, r.index])).toEqual([['missing_field', '2']]);
  });

  it('Mixpanel profile export (Engage query API results): an identify with traits = $properties, timed at the import\'s run', () => {
    // https://docs.mixpanel.com/reference/engage-query: {"results": [{"$distinct_id", "$properties": {...}}]}, saved as lines or whole.
    const profile = { $distinct_id: 'user123', $properties: { $email: 'a@example.com', $last_seen: '2024-01-01T12:00:00', $created: '2023-06-01T09:00:00', plan: 'pro' } };
    const { events, rejects } = encode('mixpanel-engage', [
      profile,
      { page: 0, page_size: 1000, results: [{ $distinct_id: 42, $properties: { $email: 'b@example.com' } }] },
      // An update with $set stays an update: traits are $set, not $properties.
      { $distinct_id: 'user9', $set: { plan: 'free' }, $properties: { plan: 'ignored' } },
      { $properties: { $email: 'no-id@example.com' } },
    ]);
    expect(events.map((e) => [e.type, e.user_id, JSON.parse(e.traits)])).toEqual([
      ['identify', 'user123', profile.$properties],
      ['identify', '42', { $email: 'b@example.com' }],
      ['identify', 'user9', { plan: 'free' }],
    ]);
    // No time of the profile's own is taken ($last_seen's zone is not documented): the run's.
    expect(events.slice(0, 2).map((e) => e.timestamp === e.received_at)).toEqual([true, true]);
    expect(rejects.map((r) => [r.error_code, r.index])).toEqual([['missing_id', '3']]);
  });

  it('Mixpanel profile export: a 64-bit integer in $properties is stored as exported, in NDJSON lines, a JSON array and the saved Engage answer', async () => {
    // JSON.parse reads 9007199254740993 as 9007199254740992; /engage's $set keeps it (readMixpanelJson).
    const wide = '9007199254740993';
    const line = `{"$distinct_id":"wide-1","$properties":{"account_id":${wide},"$email":"w@example.com"}}`;
    const answer = `{"page":0,"page_size":1000,"results":[{"$distinct_id":"wide-2","$properties":{"account_id":${wide}}}],"session_id":"s","status":"ok","total":1}`;
    const array = `[\n  {"$distinct_id": "wide-3", "$properties": {"account_id": ${wide}, "n": 1}},\n  {"$distinct_id":"wide-4","$properties":{"account_id":${wide}}}\n]`;
    const items: Item[] = [];
    for await (const batch of jsonItems(Readable.from([Buffer.from(array)]), 0)) items.push(...batch);
    const { events, rejects } = encodeItems('mixpanel-engage', [{ pos: 0, text: line }, { pos: 1, text: answer }, ...items.map((it, i) => ({ ...it, pos: 2 + i }))]);
    expect(rejects).toEqual([]);
    expect(events.map((e) => [e.user_id, e.traits])).toEqual([
      ['wide-1', `{"account_id":${wide},"$email":"w@example.com"}`],
      ['wide-2', `{"account_id":${wide}}`],
      ['wide-3', `{"account_id":${wide},"n":1}`],
      ['wide-4', `{"account_id":${wide}}`],
    ]);
  });

  it('Amplitude Export API lines: 64-bit integers in event, user and group properties are stored as exported', () => {
    // httpApiEvent spreads the line's members: the property objects stay the reader's text (readAmplitudeJson).
    const wide = '9007199254740993';
    const line = (type: string, extra: string) =>
      `{"event_time":"2024-01-01 12:00:00.000000","event_type":"${type}","user_id":"amp-wide","uuid":"u-${type}","event_properties":{"order":${wide}},"user_properties":{"account": ${wide}}${extra}}`;
    const { events, rejects } = encode('amplitude', [line('Bought', ''), line('$groupidentify', `,"groups":{"company":"acme"},"group_properties":{"company_id":${wide}}`)]);
    expect(rejects).toEqual([]);
    expect(events.map((e) => [e.type, e.properties, e.traits])).toEqual([
      ['track', `{"order":${wide}}`, `{"account":${wide}}`],
      ['group', `{"order":${wide}}`, `{"company_id":${wide}}`],
    ]);
  });

  it('Mixpanel group profile export (Engage query API with data_group_id) under mixpanel-groups: the group update that sets it', () => {
    // The entries are a user profile export's, $distinct_id being the group's id; the group key is --group-key's unless the entry names one.
    const wide = '9007199254740993';
    const lines = [
      `{"$distinct_id":"acme","$properties":{"$name":"Acme","$created":"2023-06-01T09:00:00","crm_id":${wide}}}`,
      { page: 0, page_size: 1000, results: [{ $distinct_id: 42, $properties: { seats: 40 } }], session_id: 's', status: 'ok', total: 1 },
      { $group_key: 'team', $group_id: 'core', $distinct_id: 'core', $properties: { size: 3 } },
      // An update stays an update.
      { $group_key: 'company', $group_id: 'acme', $set: { plan: 'pro' } },
    ];
    const { events, rejects } = encode('mixpanel-groups', lines, null, 'company');
    expect(rejects).toEqual([]);
    expect(events.map((e) => [e.type, e.user_id, e.group_id, e.traits, JSON.parse(e.context)])).toEqual([
      ['group', '$company_acme', 'acme', `{"$name":"Acme","$created":"2023-06-01T09:00:00","crm_id":${wide}}`, { groups: { company: 'acme' } }],
      ['group', '$company_42', '42', '{"seats":40}', { groups: { company: '42' } }],
      ['group', '$team_core', 'core', '{"size":3}', { groups: { team: 'core' } }],
      ['group', '$company_acme', 'acme', '{"plan":"pro"}', { groups: { company: 'acme' } }],
    ]);
    // Timed at the import's run, as user profiles are.
    expect(events.slice(0, 3).map((e) => e.timestamp === e.received_at)).toEqual([true, true, true]);
    // Entries that name their key need no --group-key.
    expect(encode('mixpanel-groups', [lines[2]]).events.map((e) => e.user_id)).toEqual(['$team_core']);
  });

  it('a Mixpanel group profile export without --group-key, or under mixpanel-engage, stops the import saying what to pass', () => {
    const entry = { $distinct_id: 'acme', $properties: { $name: 'Acme' } };
    expect(() => encode('mixpanel-groups', [entry])).toThrow(/item 1 is a Mixpanel group profile without \$group_key; .*pass --group-key <key>/);
    expect(() => encode('mixpanel-groups', [{ results: [entry] }])).toThrow(/pass --group-key/);
    expect(() => encode('mixpanel-engage', [{ $group_key: 'company', $distinct_id: 'acme', $properties: { $name: 'Acme' } }])).toThrow(
      /item 1 is a Mixpanel group profile \(\$group_key and \$properties\): import group profiles with --format mixpanel-groups/,
    );
    // Group updates need no --group-key: they carry theirs.
    expect(encode('mixpanel-groups', [{ $group_key: 'company', $group_id: 'acme', $set: { a: 1 } }]).events.length).toBe(1);
  });

  it('a group id over 8192 characters is refused naming the field sent ($group_id, an exported profile\'s $distinct_id, or $group_key with it), not userId', () => {
    const long = 'g'.repeat(8193);
    const { events, rejects } = encode('mixpanel-groups', [
      { $group_key: 'company', $group_id: long, $set: { a: 1 } },
      { $group_key: 'company', $group_id: 'g'.repeat(8188), $set: { a: 1 } },
      { $distinct_id: long, $properties: { a: 1 } },
    ], null, 'company');
    expect(events).toEqual([]);
    expect(rejects.map((r) => [r.error_code, r.reason])).toEqual([
      ['invalid_field', '$group_id is longer than 8192 characters'],
      ['invalid_field', '$group_key and $group_id are longer than 8190 characters together (the group\'s user id, $<group_key>_<group_id>, is at most 8192)'],
      ['invalid_field', '$distinct_id is longer than 8192 characters'],
    ]);
  });

  it('PostHog batch export JSON lines: uuid as the id, the ISO timestamp (microseconds, offset) as the time', () => {
    // https://posthog.com/docs/cdp/batch-exports/s3 ("Events model"; JSONLines: ISO 8601 times, nested properties)
    const { events } = encode('posthog', [
      {
        uuid: '0190d9a8-0000-7000-8000-000000000002',
        event: 'clicked',
        distinct_id: 'ph-user',
        person_id: '0190d9a8-0000-7000-8000-00000000aaaa',
        properties: { $browser: 'Chrome', $set: { email: 'p@example.com' } },
        person_properties: { email: 'p@example.com' },
        elements_chain: '',
        timestamp: '2024-01-01T12:00:00.123456+00:00',
        created_at: '2024-01-01T12:00:05.000000+00:00',
        _inserted_at: '2024-01-01T12:00:06.000000+00:00',
      },
    ]);
    expect(events.map((e) => [e.event, e.event_id, iso(e.timestamp), e.user_id])).toEqual([['clicked', '0190d9a8-0000-7000-8000-000000000002', '2024-01-01T12:00:00.123Z', 'ph-user']]);
    expect(JSON.parse(events[0]!.properties)).toEqual({ $browser: 'Chrome' });
    expect(JSON.parse(events[0]!.traits)).toEqual({ email: 'p@example.com' });
  });

  it('Segment export lines: timestamp (already skew-corrected) is the time, not originalTimestamp, sentAt or receivedAt', () => {
    const { events } = encode('segment', [
      {
        type: 'track', event: 'Order Completed', userId: 'seg-u', anonymousId: 'anon-1', messageId: 'seg-1', channel: 'server', projectId: 'p1', version: 2,
        originalTimestamp: '2024-01-01T11:59:00.000Z', sentAt: '2024-01-01T11:59:50.000Z', receivedAt: '2024-01-01T12:00:10.000Z', timestamp: '2024-01-01T11:59:20.000Z',
        properties: { total: 5 },
      },
    ]);
    expect(events.map((e) => [e.event_id, iso(e.timestamp), e.user_id, e.anonymous_id])).toEqual([['seg-1', '2024-01-01T11:59:20.000Z', 'seg-u', 'anon-1']]);
  });

  it('stops at a Snowplow enriched event (TSV or the Analytics SDKs\' JSON) with a message that says so', () => {
    const tsv = ['app', 'web', '2024-01-01 12:00:00.000', '2024-01-01 12:00:00.000', '', 'page_view', 'e8aef68d-8533-45c6-a672-26a0f01be9bd', ...new Array(124).fill('')].join('\t');
    expect(tsv.split('\t').length).toBe(131);
    expect(() => encode('snowplow', [tsv])).toThrow(/item 1 is a Snowplow enriched event \(TSV\); enriched events are not supported/);
    expect(() => encode('segment', [tsv])).toThrow(/Snowplow enriched event \(TSV\)/);
    const json = { app_id: 'app', platform: 'web', collector_tstamp: '2024-01-01T12:00:00.000Z', event: 'page_view', event_id: 'e8aef68d-8533-45c6-a672-26a0f01be9bd', domain_userid: 'd1' };
    expect(() => encode('snowplow', [json])).toThrow(/Snowplow enriched event \(the Analytics SDKs' JSON\)/);
    // A line that is simply broken is still one reject.
    expect(encode('snowplow', ['{broken']).rejects.map((r) => r.error_code)).toEqual(['invalid_json']);
  });
});
