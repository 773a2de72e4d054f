// trackhouse import against the real broker and chDB: files of every kind go through the CLI into
// Kafka, the sink puts them in ClickHouse, and the query API gives them back with their original
// timestamps; a kill -9 mid-import and a resume leave each event exactly once.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/localkafka/index.js';
import { tempDir } from '../support/env.js';
import { TopicReader } from './ingest-support.js';
import { startPipeline, type Pipeline } from './pipeline-support.js';
import { count } from './sink-helpers.js';

/** A 64-bit id JSON.parse would read as 12345678901234567000. */
const WIDE = '12345678901234567891';

const root = fileURLToPath(new URL('../..', import.meta.url));

let pipeline: Pipeline;
let dir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  pipeline = await startPipeline();
  dir = tempDir('trackhouse-import-');
}, 120_000);

afterAll(async () => {
  await pipeline?.close();
  dir?.remove();
});

function env(): Record<string, string> {
  const c = pipeline.ingest.config;
  return {
    ...(process.env as Record<string, string>),
    KAFKA_BROKERS: c.kafka.brokers.join(','),
    KAFKA_TOPIC_EVENTS: c.kafka.topics.events,
    KAFKA_TOPIC_REJECTED: c.kafka.topics.rejected,
    KAFKA_TOPIC_DLQ: c.kafka.topics.dlq,
    KAFKA_PARTITIONS: String(c.kafka.partitions),
    TRACKHOUSE_DATA_DIR: dir.path,
    LOG_LEVEL: 'info',
  };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function importCli(args: string[], opts: { killWhen?: () => boolean; env?: Record<string, string>; interruptWhen?: (stderr: string) => boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'import', ...args], { env: { ...env(), ...opts.env }, cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b));
    let interrupted = false;
    p.stderr.on('data', (b: Buffer) => {
      stderr += b;
      if (!interrupted && opts.interruptWhen?.(stderr)) {
        interrupted = true;
        p.kill('SIGINT');
      }
    });
    let poll: NodeJS.Timeout | undefined;
    if (opts.killWhen) {
      poll = setInterval(() => {
        if (opts.killWhen!()) {
          clearInterval(poll);
          p.kill('SIGKILL');
        }
      }, 20);
    }
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const summaryOf = (r: Run) => JSON.parse(r.stdout.trim().split('\n').pop()!) as { loaded: number; rejected: number; rejectedBy: Record<string, { count: number }>; resumedAfter: number; skippedFiles: number };

describe('trackhouse import', () => {
  it('loads gzip NDJSON, a JSON array, CSV with a mapping and PostHog events with their original timestamps, and rejects bad lines with reasons', async () => {
    const started = Date.now();
    const nd = [
      // sentAt far from timestamp: no clock-skew correction on import.
      { type: 'track', userId: 'imp-a', event: 'Signed Up', messageId: 'imp-a-1', timestamp: '2019-03-04T05:06:07.089Z', sentAt: '2019-03-04T06:00:00Z', properties: { plan: 'pro' } },
      { type: 'identify', userId: 'imp-a', traits: { email: 'a@example.com' }, timestamp: '2019-03-05T00:00:00Z' },
      { type: 'track', event: 'no id' },
      { type: 'track', userId: 'imp-a', event: 'Bad Time', timestamp: 'yesterday' },
    ];
    const ndText = `${nd.map((e) => JSON.stringify(e)).join('\n')}\n{not json\n\n`;
    writeFileSync(path.join(dir.path, 'segment.ndjson.gz'), gzipSync(ndText));
    // A 64-bit id in properties, as a Python or Go service writes it: stored as its digits.
    writeFileSync(
      path.join(dir.path, 'array.json'),
      JSON.stringify([
        { type: 'page', anonymousId: 'imp-b', name: 'Home', timestamp: '2018-01-01T00:00:00Z', messageId: 'imp-b-1' },
        { type: 'track', anonymousId: 'imp-b', event: 'Clicked', timestamp: '2018-01-01T00:00:01Z', messageId: 'imp-b-2', properties: { order: 'WIDE' } },
      ]).replace('"WIDE"', WIDE),
    );
    writeFileSync(
      path.join(dir.path, 'amplitude.json'),
      JSON.stringify([{ event_type: 'Bought', user_id: 'imp-e', time: Date.UTC(2021, 0, 1), insert_id: 'imp-e-1', event_properties: { order: 'WIDE' } }]).replace('"WIDE"', WIDE),
    );
    writeFileSync(path.join(dir.path, 'csv.csv'), 'who,what,when,plan\nimp-c,Bought,2017-06-01T12:00:00Z,basic\nimp-c,"Bought, twice",1496318400,pro\n,Orphan,2017-06-01T12:00:00Z,x\n');
    writeFileSync(
      path.join(dir.path, 'posthog.ndjson'),
      `${JSON.stringify({ event: '$pageview', distinct_id: 'imp-d', uuid: '0190d9a8-0000-7000-8000-000000000001', timestamp: '2020-02-02T02:02:02.000Z', properties: { $current_url: 'https://x.test/' } })}\n`,
    );

    const seg = await importCli([path.join(dir.path, 'segment.ndjson.gz'), path.join(dir.path, 'array.json'), '--source', 'history']);
    expect(seg.code, seg.stderr).toBe(0);
    const s1 = summaryOf(seg);
    expect(s1.loaded).toBe(4);
    expect(s1.rejected).toBe(3);
    expect(Object.fromEntries(Object.entries(s1.rejectedBy).map(([k, v]) => [k, v.count]))).toEqual({ missing_id: 1, invalid_timestamp: 1, invalid_json: 1 });
    expect(seg.stderr).toContain('"msg":"import progress"');
    expect(seg.stderr).toContain('missing_id: 1');

    const csv = await importCli([path.join(dir.path, 'csv.csv'), '--map', 'userId=who,event=what,timestamp=when']);
    expect(csv.code, csv.stderr).toBe(0);
    expect(summaryOf(csv)).toMatchObject({ loaded: 2, rejected: 1 });

    const ph = await importCli([path.join(dir.path, 'posthog.ndjson'), '--format', 'posthog']);
    expect(ph.code, ph.stderr).toBe(0);
    expect(summaryOf(ph)).toMatchObject({ loaded: 1, rejected: 0 });

    const amp = await importCli([path.join(dir.path, 'amplitude.json'), '--format', 'amplitude']);
    expect(amp.code, amp.stderr).toBe(0);
    expect(summaryOf(amp)).toMatchObject({ loaded: 1, rejected: 0 });

    const a = await pipeline.eventsOf('imp-a', 2);
    const signedUp = a.find((e) => e.event === 'Signed Up')!;
    expect(signedUp.timestamp).toBe('2019-03-04T05:06:07.089Z');
    expect(signedUp.source).toBe('history');
    expect(signedUp.properties).toEqual({ plan: 'pro' });
    expect(Date.parse(signedUp.received_at)).toBeGreaterThanOrEqual(started - 1000);
    // The identify had no messageId: its id is derived from the file and line (a UUID).
    expect(a.find((e) => e.type === 'identify')!.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const b = await pipeline.eventsOf('imp-b', 2);
    expect(b.map((e) => e.timestamp).sort()).toEqual(['2018-01-01T00:00:00.000Z', '2018-01-01T00:00:01.000Z']);
    expect(await pipeline.eventsText('imp-b', 2)).toContain(`"properties":{"order":${WIDE}}`);
    expect(await pipeline.eventsText('imp-e', 1)).toContain(`"properties":{"order":${WIDE}}`);
    const c = await pipeline.eventsOf('imp-c', 2);
    expect(c.map((e) => [e.event, e.timestamp, e.properties.plan]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1))).toEqual([
      ['Bought', '2017-06-01T12:00:00.000Z', 'basic'],
      ['Bought, twice', '2017-06-01T12:00:00.000Z', 'pro'],
    ]);
    const d = await pipeline.eventsOf('imp-d', 1);
    expect(d[0]).toMatchObject({ type: 'page', timestamp: '2020-02-02T02:02:02.000Z', event_id: '0190d9a8-0000-7000-8000-000000000001' });

    const rejected = await pipeline.rejected.waitFor(pipeline.ingest.config.kafka.topics.rejected, 4, (r) => r.headers.endpoint === 'import');
    const codes = rejected.map((r) => r.headers.error_code).sort();
    expect(codes).toEqual(['invalid_json', 'invalid_timestamp', 'missing_id', 'missing_id']);
    const bad = rejected.find((r) => r.headers.error_code === 'invalid_json')!;
    expect(bad.value.toString()).toBe('{not json');
    expect(bad.headers.file).toContain('segment.ndjson.gz');
    expect(bad.headers.index).toBe('4');
  }, 180_000);

  it('loads the vendors\' own export files with their event times and ids; a re-export of the same events adds none; stops at Snowplow enriched TSV', async () => {
    // Amplitude's Export API: gzip JSON lines with event_time (UTC) and $insert_id / uuid, no `time`.
    const amp = (insertId: string | null, uuid: string, eventTime: string, type: string) => ({
      $insert_id: insertId, amplitude_id: 987654321012, app: 123456, city: 'Berlin', client_event_time: eventTime, client_upload_time: '2024-01-01 12:00:01.000000',
      device_carrier: null, device_id: 'exp-amp-device', event_id: 3, event_properties: { plan: 'pro' }, event_time: eventTime, event_type: type, groups: {},
      ip_address: '203.0.113.9', library: 'amplitude-ts/2.1.0', os_name: 'Chrome', platform: 'Web', server_received_time: '2024-01-01 12:00:02.000000',
      server_upload_time: '2024-01-01 12:00:02.500000', session_id: -1, user_id: 'exp-amp', user_properties: { email: 'a@example.com' }, uuid, version_name: '1.2.3',
    });
    const ampEvents = [amp('exp-amp-ins-1', '6f1c0c2e-0000-4000-8000-000000000001', '2021-05-06 07:08:09.123000', 'Signed Up'), amp(null, '6f1c0c2e-0000-4000-8000-000000000002', '2021-05-06 07:09:00.000000', 'Upgraded')];
    const ampFile = path.join(dir.path, 'amplitude-export-1.json.gz');
    writeFileSync(ampFile, gzipSync(`${ampEvents.map((e) => JSON.stringify(e)).join('\n')}\n`));
    // The same events exported again (another file: other derived ids, the same vendor ids).
    const ampAgain = path.join(dir.path, 'amplitude-export-2.json.gz');
    writeFileSync(ampAgain, gzipSync(`${[...ampEvents].reverse().map((e) => JSON.stringify(e)).join('\n')}\n`));
    // Mixpanel's raw export: time in seconds (and in ms with time_in_ms=true).
    const mpFile = path.join(dir.path, 'mixpanel-export.ndjson');
    writeFileSync(
      mpFile,
      [
        { event: 'Signed up', properties: { time: 1602611311, $insert_id: 'exp-mp-ins-1', mp_processing_time_ms: 1602625711874, distinct_id: 'exp-mp', $email: 'm@example.com' } },
        { event: 'Purchase', properties: { time: 1602787121456, $insert_id: 'exp-mp-ins-2', mp_processing_time_ms: 1602787122000, distinct_id: 'exp-mp' } },
      ].map((e) => `${JSON.stringify(e)}\n`).join(''),
    );
    // PostHog's batch export (JSON lines).
    const phFile = path.join(dir.path, 'posthog-export.jsonl');
    writeFileSync(
      phFile,
      `${JSON.stringify({ uuid: '0190d9a8-0000-7000-8000-0000000000e1', event: 'clicked', distinct_id: 'exp-ph', person_id: '0190d9a8-0000-7000-8000-00000000aaaa', properties: { $browser: 'Chrome' }, person_properties: {}, elements_chain: '', timestamp: '2022-03-04T05:06:07.891234+00:00', created_at: '2022-03-04T05:06:10.000000+00:00', _inserted_at: '2022-03-04T05:06:11.000000+00:00' })}\n`,
    );
    // Segment's own export: timestamp beside originalTimestamp, sentAt and receivedAt.
    const segFile = path.join(dir.path, 'segment-export.json');
    writeFileSync(
      segFile,
      `${JSON.stringify({ type: 'track', event: 'Order Completed', userId: 'exp-seg', messageId: 'exp-seg-1', originalTimestamp: '2020-01-01T11:59:00.000Z', sentAt: '2020-01-01T11:59:50.000Z', receivedAt: '2020-01-01T12:00:10.000Z', timestamp: '2020-01-01T11:59:20.000Z', channel: 'server', projectId: 'p1', version: 2 })}\n`,
    );

    for (const [file, format] of [[ampFile, 'amplitude'], [ampAgain, 'amplitude'], [mpFile, 'mixpanel'], [phFile, 'posthog'], [segFile, 'segment']] as const) {
      const r = await importCli([file, '--format', format, '--progress', 'off']);
      expect(r.code, r.stderr).toBe(0);
      expect(summaryOf(r), file).toMatchObject({ rejected: 0 });
    }

    const a = await pipeline.eventsOf('exp-amp', 2);
    expect(a.map((e) => [e.event, e.event_id, e.timestamp, e.anonymous_id]).sort()).toEqual([
      ['Signed Up', 'exp-amp-ins-1', '2021-05-06T07:08:09.123Z', 'exp-amp-device'],
      ['Upgraded', '6f1c0c2e-0000-4000-8000-000000000002', '2021-05-06T07:09:00.000Z', 'exp-amp-device'],
    ]);
    expect(a[0]!.context).toMatchObject({ ip: '203.0.113.9', app: { version: '1.2.3' } });
    expect(a[0]!.properties).toEqual({ plan: 'pro' });
    const m = await pipeline.eventsOf('exp-mp', 2);
    expect(m.map((e) => [e.event, e.event_id, e.timestamp]).sort()).toEqual([
      ['Purchase', 'exp-mp-ins-2', '2020-10-15T18:38:41.456Z'],
      ['Signed up', 'exp-mp-ins-1', '2020-10-13T17:48:31.000Z'],
    ]);
    expect((await pipeline.eventsOf('exp-ph', 1)).map((e) => [e.event, e.event_id, e.timestamp])).toEqual([['clicked', '0190d9a8-0000-7000-8000-0000000000e1', '2022-03-04T05:06:07.891Z']]);
    expect((await pipeline.eventsOf('exp-seg', 1)).map((e) => [e.event_id, e.timestamp])).toEqual([['exp-seg-1', '2020-01-01T11:59:20.000Z']]);
    // A project created before 2023 exports its zone's wall clock: --mixpanel-timezone reads it.
    const mpLocal = path.join(dir.path, 'mixpanel-export-local.ndjson');
    writeFileSync(mpLocal, `${JSON.stringify({ event: 'Signed up', properties: { time: Date.UTC(2020, 9, 13, 10, 48, 31) / 1000, $insert_id: 'exp-mp-tz-1', distinct_id: 'exp-mp-tz' } })}\n`);
    expect((await importCli([mpLocal, '--format', 'mixpanel', '--mixpanel-timezone', 'Mars/Olympus'])).code).toBe(2);
    const tz = await importCli([mpLocal, '--format', 'mixpanel', '--mixpanel-timezone', 'US/Pacific', '--progress', 'off']);
    expect(tz.code, tz.stderr).toBe(0);
    expect((await pipeline.eventsOf('exp-mp-tz', 1)).map((e) => [e.event_id, e.timestamp])).toEqual([['exp-mp-tz-1', '2020-10-13T17:48:31.000Z']]);
    // The second Amplitude file's events were the same events: still two.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await pipeline.eventsOf('exp-amp', 2)).length).toBe(2);
    // In ClickHouse too: the query API collapses rows with the same time and id, so it alone would not show a copy.
    expect(await count(pipeline.clickhouse, "SELECT count() FROM events WHERE user_key = 'exp-amp'")).toBe(2);

    // Snowplow's enriched events (131 tab-separated fields) are refused as such, before anything is sent.
    const tsv = path.join(dir.path, 'enriched.tsv');
    writeFileSync(tsv, `${['app', 'web', '2024-01-01 12:00:00.000', '2024-01-01 12:00:00.000', '', 'page_view', 'e8aef68d-8533-45c6-a672-26a0f01be9bd', ...new Array<string>(124).fill('')].join('\t')}\n`);
    const sp = await importCli([tsv, '--format', 'snowplow', '--progress', 'off']);
    expect(sp.code).toBe(2);
    expect(sp.stderr).toContain('is a Snowplow enriched event (TSV); enriched events are not supported');
  }, 180_000);

  it('keeps the 64-bit integers of Mixpanel profile exports (lines, an array, the saved Engage answer) and of Amplitude\'s Export API lines', async () => {
    // Mixpanel's user profile export: a line, a JSON array (as a tool saves the results), the saved Engage answer.
    const profiles = path.join(dir.path, 'mixpanel-profiles.ndjson');
    writeFileSync(
      profiles,
      `{"$distinct_id":"fid-mp-1","$properties":{"account_id":${WIDE},"$email":"a@example.com"}}\n` +
        `{"page":0,"page_size":1000,"results":[{"$distinct_id":"fid-mp-2","$properties":{"account_id":${WIDE}}}],"session_id":"s","status":"ok","total":1}\n`,
    );
    const profileArray = path.join(dir.path, 'mixpanel-profiles.json');
    writeFileSync(profileArray, `[\n  {"$distinct_id": "fid-mp-3", "$properties": {"account_id": ${WIDE}}}\n]\n`);
    for (const file of [profiles, profileArray]) {
      const r = await importCli([file, '--format', 'mixpanel-engage', '--progress', 'off']);
      expect(r.code, r.stderr).toBe(0);
      expect(summaryOf(r)).toMatchObject({ rejected: 0 });
    }
    for (const user of ['fid-mp-1', 'fid-mp-2', 'fid-mp-3']) expect(await pipeline.eventsText(user, 1), user).toContain(`"account_id":${WIDE}`);
    // Amplitude's Export API line: event, user properties as exported.
    const amp = path.join(dir.path, 'amplitude-wide.json');
    writeFileSync(amp, `{"event_time":"2024-01-01 12:00:00.000000","event_type":"Bought","user_id":"fid-amp","uuid":"fid-amp-1","event_properties":{"order":${WIDE}},"user_properties":{"account":${WIDE}}}\n`);
    const ampRun = await importCli([amp, '--format', 'amplitude', '--progress', 'off']);
    expect(ampRun.code, ampRun.stderr).toBe(0);
    const ampText = await pipeline.eventsText('fid-amp', 1);
    expect([ampText.includes(`"order":${WIDE}`), ampText.includes(`"account":${WIDE}`)]).toEqual([true, true]);
  }, 180_000);

  // A saved API answer pretty-printed (`curl .../engage | jq . > out.json`) was cut into lines,
  // each invalid_json: every entry was rejected.
  it('loads a pretty-printed saved answer (jq .) whole: Mixpanel\'s Engage {"results":[...]} and a gzip Segment {"batch":[...]} with a BOM, 64-bit integers kept', async () => {
    const engage = path.join(dir.path, 'mixpanel-engage-pretty.json');
    const answer = { page: 0, page_size: 1000, results: [{ $distinct_id: 'fid-pretty-1', $properties: { account_id: 1 } }, { $distinct_id: 'fid-pretty-2', $properties: { $email: 'b@example.com' } }], status: 'ok', total: 2 };
    writeFileSync(engage, `${JSON.stringify(answer, null, 2).replace('"account_id": 1', `"account_id": ${WIDE}`)}\n`);
    const batch = path.join(dir.path, 'segment-batch-pretty.json.gz');
    const body = { batch: [{ type: 'track', event: 'Pretty', userId: 'fid-pretty-3', messageId: 'fid-pretty-m1', properties: { order: 1 } }, { type: 'identify', userId: 'fid-pretty-3', messageId: 'fid-pretty-m2', traits: { a: 1 } }] };
    writeFileSync(batch, gzipSync(`\ufeff\n  ${JSON.stringify(body, null, 2).replace('"order": 1', `"order": ${WIDE}`)}\n`));
    for (const [file, format, loaded] of [[engage, 'mixpanel-engage', 2], [batch, 'segment', 2]] as const) {
      const r = await importCli([file, '--format', format, '--progress', 'off']);
      expect(r.code, r.stderr).toBe(0);
      expect(summaryOf(r), file).toMatchObject({ loaded, rejected: 0 });
    }
    expect(await pipeline.eventsText('fid-pretty-1', 1)).toContain(`"account_id":${WIDE}`);
    expect(await pipeline.eventsOf('fid-pretty-2', 1)).toHaveLength(1);
    expect(await pipeline.eventsText('fid-pretty-3', 2)).toContain(`"order":${WIDE}`);
  }, 180_000);

  // `jq . events.ndjson > events.json` pretty-prints each event, one after another: every line was rejected.
  it('loads pretty-printed events written one after another (jq . of NDJSON), each once, 64-bit integers kept', async () => {
    const file = path.join(dir.path, 'segment-jq.json');
    const events = [
      { type: 'track', event: 'Jq', userId: 'fid-jq-1', messageId: 'fid-jq-m1', properties: { order: 1 } },
      { type: 'identify', userId: 'fid-jq-1', messageId: 'fid-jq-m2', traits: { plan: 'pro' } },
      { type: 'track', event: 'Jq', userId: 'fid-jq-2', messageId: 'fid-jq-m3' },
    ];
    writeFileSync(file, events.map((e) => JSON.stringify(e, null, 2)).join('\n').replace('"order": 1', `"order": ${WIDE}`) + '\n');
    const r = await importCli([file, '--format', 'segment', '--progress', 'off']);
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r)).toMatchObject({ loaded: 3, rejected: 0 });
    expect(await pipeline.eventsText('fid-jq-1', 2)).toContain(`"order":${WIDE}`);
    expect(await pipeline.eventsOf('fid-jq-2', 1)).toHaveLength(1);
  }, 180_000);

  it('reads a Mixpanel group profile export as group updates with --group-key, and stops saying to pass it when it is missing', async () => {
    // Mixpanel's group profile export (data_group_id): entries do not name the group key.
    const groups = path.join(dir.path, 'mixpanel-group-profiles.ndjson');
    writeFileSync(groups, `{"page":0,"page_size":1000,"results":[{"$distinct_id":"fid-acme","$properties":{"$name":"Acme","crm_id":${WIDE}}}],"status":"ok","total":1}\n`);
    const noKey = await importCli([groups, '--format', 'mixpanel-groups', '--progress', 'off']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('is a Mixpanel group profile without $group_key');
    expect(noKey.stderr).toContain('pass --group-key <key>');
    expect((await importCli([groups, '--format', 'mixpanel-engage', '--group-key', 'company'])).code).toBe(2);
    const withKey = await importCli([groups, '--format', 'mixpanel-groups', '--group-key', 'company', '--progress', 'off', '--restart']);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(summaryOf(withKey)).toMatchObject({ loaded: 1, rejected: 0 });
    const [g] = await pipeline.eventsOf('$company_fid-acme', 1);
    expect([g!.type, g!.group_id, g!.context]).toEqual(['group', 'fid-acme', { groups: { company: 'fid-acme' } }]);
    expect(await pipeline.eventsText('$company_fid-acme', 1)).toContain(`"crm_id":${WIDE}`);
    // The group's entry never became a user's profile.
    expect(await count(pipeline.clickhouse, "SELECT count() FROM events WHERE user_key = 'fid-acme'")).toBe(0);
  }, 180_000);

  it('refuses a group id over 8192 characters with a reason naming the field the file has ($group_id, or an exported profile\'s $distinct_id)', async () => {
    const long = path.join(dir.path, 'mixpanel-group-long.ndjson');
    const longId = `fid-long-${'g'.repeat(8192)}`;
    writeFileSync(long, `${JSON.stringify({ $group_key: 'company', $group_id: longId, $set: { a: 1 } })}\n${JSON.stringify({ $group_key: 'company', $distinct_id: longId, $properties: { a: 1 } })}\n`);
    const longRun = await importCli([long, '--format', 'mixpanel-groups', '--progress', 'off']);
    expect(longRun.code, longRun.stderr).toBe(0);
    expect(summaryOf(longRun)).toMatchObject({ loaded: 0, rejected: 2 });
    const rejected = await pipeline.rejected.waitFor(pipeline.ingest.config.kafka.topics.rejected, 2, (r) => r.headers.endpoint === 'import' && (r.headers.file ?? '').includes('mixpanel-group-long'));
    expect(rejected.map((r) => [r.headers.index, r.headers.error_code, r.headers.reason]).sort()).toEqual([
      ['0', 'invalid_field', '$group_id is longer than 8192 characters'],
      ['1', 'invalid_field', '$distinct_id is longer than 8192 characters'],
    ]);
  }, 180_000);

  it('stops on Ctrl-C while Kafka cannot be reached yet: exit 130, a summary that nothing was sent, no checkpoint', async () => {
    const file = path.join(dir.path, 'unreached.ndjson');
    writeFileSync(file, '{"type":"track","event":"A","userId":"u-unreached","messageId":"m-unreached"}\n');
    const checkpoint = path.join(dir.path, 'unreached-checkpoint.json');
    const r = await importCli([file, '--checkpoint', checkpoint, '--progress', 'off'], {
      env: { KAFKA_BROKERS: `127.0.0.1:${await freePort()}` },
      // kafkajs logs each refused connection while it retries (about 20 s in all).
      interruptWhen: (stderr) => stderr.includes('ECONNREFUSED'),
    });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(summaryOf(r)).toMatchObject({ files: 1, loaded: 0, rejected: 0, interrupted: true, checkpoint });
    expect(r.stderr).toContain('import interrupted before Kafka was reached');
    expect(r.stderr).not.toContain('could not reach Kafka');
    expect(existsSync(checkpoint)).toBe(false);
  }, 120_000);

  it('resumes after kill -9 mid-import with every event exactly once in ClickHouse', async () => {
    const users = 12;
    const perUser = 250;
    const lines: string[] = [];
    for (let i = 0; i < users * perUser; i++) {
      const u = `resume-${i % users}`;
      // Half with their own id, half with one derived from file and line.
      const e: Record<string, unknown> = { type: 'track', userId: u, event: 'Old', timestamp: new Date(Date.UTC(2021, 0, 1) + i * 1000).toISOString(), properties: { i } };
      if (i % 2 === 0) e.messageId = `resume-${i}`;
      lines.push(JSON.stringify(e));
    }
    const file = path.join(dir.path, 'resume.ndjson.gz');
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    const cp = path.join(dir.path, 'resume-checkpoint.json');
    const doneSoFar = () => {
      if (!existsSync(cp)) return 0;
      try {
        return Object.values((JSON.parse(readFileSync(cp, 'utf8')) as { inputs: Record<string, { name: string; done: number }> }).inputs).find((x) => x.name === file)?.done ?? 0;
      } catch {
        return 0;
      }
    };
    // Killed once Kafka holds more of the file than the checkpoint says, so the resume must send
    // some events a second time: they reach Kafka twice and ClickHouse once.
    const topic = pipeline.ingest.config.kafka.topics.events;
    const reader = await new TopicReader(pipeline.ingest.kafka, [topic]).start();
    // The reader has joined once it sees a first, one-line import.
    const warm = path.join(dir.path, 'warm.ndjson');
    writeFileSync(warm, `${JSON.stringify({ type: 'track', userId: 'warm-0', event: 'Warm', messageId: 'warm-0' })}\n`);
    expect((await importCli([warm, '--checkpoint', cp])).code).toBe(0);
    await reader.waitFor(topic, 1, (r) => r.key === 'warm-0');
    const inKafka = () => reader.records.filter((r) => r.key?.startsWith('resume-')).length;
    const first = await importCli([file, '--rate', '500', '--checkpoint', cp], { killWhen: () => inKafka() >= 600 && inKafka() > doneSoFar() });
    expect(first.signal).toBe('SIGKILL');
    const at = doneSoFar();
    const sentBeforeKill = inKafka();
    expect(sentBeforeKill).toBeGreaterThan(at);
    expect(at).toBeLessThan(lines.length);

    const second = await importCli([file, '--checkpoint', cp]);
    expect(second.code, second.stderr).toBe(0);
    const s = summaryOf(second);
    expect(s.resumedAfter).toBe(at);
    expect(s.loaded).toBe(lines.length - at);
    // A third run finds the file complete and sends nothing.
    const third = await importCli([file, '--checkpoint', cp]);
    expect(summaryOf(third)).toMatchObject({ loaded: 0, skippedFiles: 1 });

    for (let u = 0; u < users; u++) {
      const events = await pipeline.eventsOf(`resume-${u}`, perUser);
      const ids = new Set(events.map((e) => e.event_id));
      expect(events.length).toBe(perUser);
      expect(ids.size).toBe(perUser);
      expect(new Set(events.map((e) => (e.properties as { i: number }).i)).size).toBe(perUser);
    }
    // Every record the first run sent past its checkpoint went to Kafka again.
    await reader.waitFor(topic, lines.length + (sentBeforeKill - at), (r) => r.key?.startsWith('resume-') === true);
    await reader.stop();
    // Nothing more arrives later (a duplicate would show up as a 251st event).
    await new Promise((r) => setTimeout(r, 1500));
    const again = await pipeline.eventsOf('resume-0', perUser);
    expect(again.length).toBe(perUser);
  }, 300_000);
});
