import { describe, expect, it } from 'vitest';
import { storedRecords } from '../../../test/support/vendor-records.js';
import { JsonText } from '../jsontext.js';
import { mixpanelReplies, readMixpanelJson, translateMixpanel } from './mixpanel.js';
import { Refused } from './types.js';

describe('Mixpanel track / engage / import -> Segment calls', () => {
  it('maps an event field by field; the token is the key and leaves the properties', () => {
    const t = translateMixpanel(
      [{ event: 'Signed Up', properties: { token: 'k1', distinct_id: 'u1', time: 1795687200, $insert_id: 'i1', plan: 'pro', mp_lib: 'node', $lib_version: '0.24.0', $current_url: 'https://x.example/', $os: 'Linux', ip: '203.0.113.9' } }],
      'track',
    );
    expect(t.key).toBe('k1');
    expect(t.calls[0]).toEqual({
      type: 'track',
      event: 'Signed Up',
      writeKey: 'k1',
      userId: 'u1',
      messageId: 'i1',
      timestamp: 1795687200 * 1000,
      properties: { distinct_id: 'u1', time: 1795687200, $insert_id: 'i1', plan: 'pro', mp_lib: 'node', $lib_version: '0.24.0', $current_url: 'https://x.example/', $os: 'Linux', ip: '203.0.113.9' },
      context: { library: { name: 'node', version: '0.24.0' }, page: { url: 'https://x.example/' }, os: { name: 'Linux' }, ip: '203.0.113.9' },
    });
  });

  it('reads ms times, $device: ids, $user_id/$device_id, $identify, $create_alias and page views', () => {
    const calls = translateMixpanel(
      [
        { event: 'a', properties: { distinct_id: '$device:d1', time: 1795687200123 } },
        { event: 'b', properties: { distinct_id: 'u1', $user_id: 'u1', $device_id: 'd1' } },
        { event: '$identify', properties: { distinct_id: 'u1', $identified_id: 'u1', $anon_id: 'd1' } },
        { event: '$create_alias', properties: { distinct_id: 'old', alias: 'u1' } },
        { event: '$mp_web_page_view', properties: { distinct_id: 'u1', current_page_title: 'Home' } },
      ],
      'track',
    ).calls;
    expect(calls[0]).toMatchObject({ anonymousId: 'd1', timestamp: 1795687200123 });
    expect(calls[0]).not.toHaveProperty('userId');
    expect(calls[1]).toMatchObject({ userId: 'u1', anonymousId: 'd1' });
    expect(calls[2]).toMatchObject({ type: 'identify', userId: 'u1', anonymousId: 'd1' });
    expect(calls[3]).toMatchObject({ type: 'alias', userId: 'u1', previousId: 'old' });
    expect(calls[4]).toMatchObject({ type: 'page', name: 'Home', userId: 'u1' });
  });

  it('maps an engage update to identify: $set over $set_once as traits, other operations as properties', () => {
    const t = translateMixpanel({ $token: 'k1', $distinct_id: 'u1', $set: { plan: 'pro' }, $set_once: { first: 'a', plan: 'free' }, $add: { n: 1 }, $time: 1795687200000, $ip: '1.2.3.4' }, 'engage');
    expect(t.key).toBe('k1');
    expect(t.calls[0]).toEqual({
      type: 'identify',
      writeKey: 'k1',
      userId: 'u1',
      traits: { first: 'a', plan: 'pro' },
      properties: { $add: { n: 1 } },
      timestamp: 1795687200000,
      context: { ip: '1.2.3.4' },
    });
  });

  it('takes an engage update\'s $user_id / $device_id (mixpanel-browser\'s) as its ids, and $ip "0" as no address', () => {
    const calls = translateMixpanel(
      [
        { $token: 'k', $distinct_id: 'u1', $device_id: 'd1', $user_id: 'u1', $set: { plan: 'pro' } },
        { $token: 'k', $distinct_id: '$device:d2', $device_id: 'd2', $set: { plan: 'free' } },
        { $token: 'k', $distinct_id: 'u3', $set: { plan: 'team' }, $ip: '0' },
      ],
      'engage',
    ).calls;
    expect(calls[0]).toMatchObject({ type: 'identify', userId: 'u1', anonymousId: 'd1' });
    expect(calls[1]).toMatchObject({ type: 'identify', anonymousId: 'd2' });
    expect(calls[1]).not.toHaveProperty('userId');
    expect(calls[2]).toMatchObject({ type: 'identify', userId: 'u3' });
    expect(calls[2]).not.toHaveProperty('context');
  });

  it('refuses events without a name, a distinct_id or a readable time', () => {
    const t = translateMixpanel([{ properties: { distinct_id: 'u' } }, { event: 'x', properties: {} }, { event: 'x', properties: { distinct_id: 'u', time: 'soon' } }], 'import');
    expect(t.calls.map((c) => (c instanceof Refused ? [c.code, c.field] : 'ok'))).toEqual([
      ['missing_field', 'event'],
      ['missing_id', 'properties.distinct_id'],
      ['invalid_timestamp', 'properties.time'],
    ]);
    expect(translateMixpanel({ $set: {} }, 'engage').calls[0]).toBeInstanceOf(Refused);
  });

  it('answers 1 / 0, {"status":...} with verbose=1, and the /import JSON with failed_records', () => {
    const ok = { accepted: 2, total: 2, rejected: null, bodyBytes: 1, receivedAt: 0 };
    const bad = { accepted: 1, total: 2, rejected: [{ index: 1, code: 'missing_id', error: 'no id', field: 'properties.distinct_id' }], bodyBytes: 1, receivedAt: 0 };
    expect(mixpanelReplies('plain').done(ok)).toEqual({ status: 200, contentType: 'text/plain', body: '1' });
    expect(mixpanelReplies('plain').done(bad)).toMatchObject({ status: 400, body: '0' });
    expect(JSON.parse(mixpanelReplies('verbose').done(ok).body as string)).toEqual({ status: 1, error: null });
    expect(JSON.parse(mixpanelReplies('verbose').done(bad).body as string)).toMatchObject({ status: 0 });
    expect(JSON.parse(mixpanelReplies('import').done(ok).body as string)).toEqual({ code: 200, num_records_imported: 2, status: 1 });
    expect(JSON.parse(mixpanelReplies('import').done(bad).body as string)).toMatchObject({
      code: 400,
      num_records_imported: 1,
      failed_records: [{ index: 1, field: 'properties.distinct_id', message: 'no id' }],
    });
    expect(mixpanelReplies('plain').refused(401, 'unknown_write_key', 'x')).toEqual({ status: 401, contentType: 'text/plain', body: '0' });
  });
});

describe('Mixpanel bodies as the edge reads them: 64-bit integers kept as sent', () => {
  const WIDE = '12345678901234567891'; // JSON.parse reads 12345678901234567000
  const form = (v: string) => `data=${encodeURIComponent(Buffer.from(v).toString('base64'))}`;

  it('stores a wide integer of properties digit for digit, and a distinct_id sent as one as its digits', () => {
    // As mixpanel-python 5.4.1 posts it: compact JSON (non-ASCII escaped), base64 in a form.
    const event = `[{"event":"Order Completed","properties":{"token":"k","distinct_id":${WIDE},"time":1795687200,"$insert_id":"i-1","big":${WIDE},"name":"Zo\\u00eb","mp_lib":"python"}}]`;
    for (const path of ['/track', '/import']) {
      const { decoded, records } = storedRecords(path, form(event));
      expect(decoded.vendor, path).toBe('mixpanel');
      expect(decoded.translation.key).toBe('k');
      expect(records[0], path).toMatchObject({ type: 'track', event: 'Order Completed', user_id: WIDE });
      const r = records[0] as { properties: string; context: string };
      expect(r.properties, path).toBe(`{"distinct_id":${WIDE},"time":1795687200,"$insert_id":"i-1","big":${WIDE},"name":"Zoë","mp_lib":"python"}`);
      expect(JSON.parse(r.context)).toEqual({ library: { name: 'python' } });
    }
  });

  it('keeps a canonical event\'s properties as its own text, less the token (the fast path)', () => {
    const body = `[{"event":"x","properties":{"token":"k","distinct_id":"u-1","$device_id":${WIDE},"big":-9223372036854775808,"price":10.5}}]`;
    const { decoded, records } = storedRecords('/track', body);
    const call = decoded.translation.calls[0] as Record<string, unknown>;
    expect(call.properties).toBeInstanceOf(JsonText);
    expect(call).toMatchObject({ userId: 'u-1', anonymousId: WIDE });
    expect((records[0] as { properties: string }).properties).toBe(`{"distinct_id":"u-1","$device_id":${WIDE},"big":-9223372036854775808,"price":10.5}`);
  });

  it('stores engage $set / $set_once traits with their wide integers, and a $distinct_id sent as one as its digits', () => {
    const set = `{"$token":"k","$distinct_id":${WIDE},"$time":1795687200000,"$set":{"plan":"pro","big":${WIDE}}}`;
    const { records } = storedRecords('/engage', form(set));
    expect(records[0]).toMatchObject({ type: 'identify', user_id: WIDE, traits: `{"plan":"pro","big":${WIDE}}` });
    // Both: $set over $set_once, merged without rounding.
    const both = `{"$token": "k", "$distinct_id": "u-1", "$set_once": {"first": ${WIDE}, "plan": "free"}, "$set": {"plan": "pro", "big": 9223372036854775807}}`;
    expect(storedRecords('/engage', both).records[0]).toMatchObject({ user_id: 'u-1', traits: `{"first":${WIDE},"plan":"pro","big":9223372036854775807}` });
  });

  it('reads a PostHog body on /track as PostHog\'s, not Mixpanel\'s', () => {
    const { decoded, records } = storedRecords('/track', `{"api_key":"k","batch":[{"event":"x","distinct_id":${WIDE},"properties":{"token":"k","big":${WIDE}}}]}`);
    expect(decoded.vendor).toBe('posthog');
    expect(records[0]).toMatchObject({ type: 'track', user_id: WIDE, properties: `{"big":${WIDE}}` });
  });
});

describe('Mixpanel group profile updates (/groups) -> group calls', () => {
  const WIDE = '12345678901234567891';
  const form = (v: string) => `data=${encodeURIComponent(Buffer.from(v).toString('base64'))}`;

  it('maps an update to a group call: $group_id the group id, $<group_key>_<group_id> the user id, context.groups, $set over $set_once as traits', () => {
    // As the mixpanel npm client's groups.set sends it (with a $time and $ip of its modifiers).
    const t = translateMixpanel({ $token: 'k1', $group_key: 'company', $group_id: 'Acme Inc.', $set: { plan: 'pro' }, $set_once: { founded: 1999, plan: 'free' }, $time: 1795687200000, $ip: '203.0.113.9' }, 'groups');
    expect(t.key).toBe('k1');
    expect(t.calls[0]).toEqual({
      type: 'group',
      writeKey: 'k1',
      groupId: 'Acme Inc.',
      userId: '$company_Acme Inc.',
      traits: { founded: 1999, plan: 'pro' },
      properties: {},
      timestamp: 1795687200000,
      context: { groups: { company: 'Acme Inc.' }, ip: '203.0.113.9' },
    });
  });

  it('refuses a $group_id over 8192 characters naming $group_id, and a key and id too long together naming $group_key (not the userId they make)', () => {
    const calls = translateMixpanel(
      [
        { $token: 'k', $group_key: 'company', $group_id: 'g'.repeat(8193), $set: { a: 1 } },
        { $token: 'k', $group_key: 'company', $group_id: 'g'.repeat(8184), $set: { a: 1 } },
        { $token: 'k', $group_key: 'company', $group_id: 'g'.repeat(8183), $set: { a: 1 } },
      ],
      'groups',
    ).calls;
    expect(calls.slice(0, 2).map((c) => c instanceof Refused && [c.code, c.field, c.message])).toEqual([
      ['invalid_field', '$group_id', '$group_id is longer than 8192 characters'],
      ['invalid_field', '$group_key', "$group_key and $group_id are longer than 8190 characters together (the group's user id, $<group_key>_<group_id>, is at most 8192)"],
    ]);
    // $company_ + 8183 characters: 8192, the longest user id.
    expect((calls[2] as { userId: string }).userId.length).toBe(8192);
  });

  it('takes the write key from refused updates and events too, so a body of only invalid ones is answered with their reasons, not 401', () => {
    expect(translateMixpanel([{ $token: 'k1', $group_key: 'company', $group_id: 'g'.repeat(8193) }], 'groups').key).toBe('k1');
    expect(translateMixpanel({ $token: 'k2', $set: { a: 1 } }, 'engage').key).toBe('k2');
    expect(translateMixpanel([{ event: '', properties: { token: 'k3', distinct_id: 'u' } }], 'track').key).toBe('k3');
    // As the edge reads a body: properties kept as text, the token picked.
    expect(translateMixpanel(readMixpanelJson('[{"event":"","properties":{"token":"k4","distinct_id":"u"}}]'), 'track').key).toBe('k4');
  });

  it('keeps the other operations ($union, $remove, $unset, $delete, $add) as properties, a numeric $group_id as its text, $ip "0" as no address', () => {
    const calls = translateMixpanel(
      [
        { $token: 'k', $group_key: 'org', $group_id: 42, $union: { tags: ['a', 'b'] }, $ip: '0' },
        { $token: 'k', $group_key: 'org', $group_id: 42, $remove: { tags: 'a' } },
        { $token: 'k', $group_key: 'org', $group_id: 42, $unset: ['legacy'] },
        { $token: 'k', $group_key: 'org', $group_id: 42, $delete: '' },
        { $token: 'k', $group_key: 'org', $group_id: 42, $add: { seats: 3 } },
      ],
      'groups',
    ).calls;
    expect(calls.map((c) => (c as Record<string, unknown>).properties)).toEqual([{ $union: { tags: ['a', 'b'] } }, { $remove: { tags: 'a' } }, { $unset: ['legacy'] }, { $delete: '' }, { $add: { seats: 3 } }]);
    for (const c of calls) expect(c).toMatchObject({ type: 'group', groupId: '42', userId: '$org_42', traits: {}, context: { groups: { org: '42' } } });
    expect((calls[0] as Record<string, unknown>).context).not.toHaveProperty('ip');
  });

  it('refuses an update without $group_key or $group_id, or with an unreadable $time, naming the field', () => {
    const t = translateMixpanel(
      [
        { $token: 'k', $group_id: 'acme', $set: { a: 1 } },
        { $token: 'k', $group_key: 'company', $set: { a: 1 } },
        { $token: 'k', $group_key: '', $group_id: 'acme' },
        { $token: 'k', $group_key: 'company', $group_id: { id: 1 } },
        { $token: 'k', $group_key: 'company', $group_id: 'acme', $time: 'soon' },
        'text',
      ],
      'groups',
    );
    expect(t.calls.map((c) => (c instanceof Refused ? [c.code, c.field] : 'ok'))).toEqual([
      ['missing_field', '$group_key'],
      ['missing_id', '$group_id'],
      ['missing_field', '$group_key'],
      ['missing_id', '$group_id'],
      ['invalid_timestamp', '$time'],
      ['not_an_object', 'update'],
    ]);
    expect(t.raw[1]).toEqual({ $token: 'k', $group_key: 'company', $set: { a: 1 } });
  });

  it('stores a group update as the edge does: group_id, the group\'s user id, traits and a 64-bit $group_id with every digit', () => {
    // As mixpanel-python 5.4.1 posts group_set: compact JSON, not base64, in a form.
    const body = `data=${encodeURIComponent(`{"$token":"k","$time":1795687200123.456,"$group_key":"company","$group_id":${WIDE},"$set":{"name":"Acme","big":${WIDE}}}`)}&verbose=1&ip=0`;
    const { decoded, records } = storedRecords('/groups', body);
    expect([decoded.vendor, decoded.translation.key, decoded.noCallerIp]).toEqual(['mixpanel', 'k', true]);
    expect(records[0]).toMatchObject({ type: 'group', group_id: WIDE, user_id: `$company_${WIDE}`, anonymous_id: null, traits: `{"name":"Acme","big":${WIDE}}`, properties: '{}' });
    expect(JSON.parse((records[0] as { context: string }).context)).toEqual({ groups: { company: WIDE } });
    // mixpanel-browser's base64 form on /groups/, and the npm client's GET ?data= on /groups.
    const browser = storedRecords('/groups/', form('{"$set":{"plan":"team"},"$token":"k","$group_key":"company","$group_id":"acme"}'));
    expect(browser.records[0]).toMatchObject({ type: 'group', group_id: 'acme', user_id: '$company_acme', traits: '{"plan":"team"}' });
    const get = storedRecords('/groups', '', `ip=0&verbose=0&${form('{"$token":"k","$group_key":"company","$group_id":"acme","$delete":""}')}`);
    expect(get.records[0]).toMatchObject({ type: 'group', group_id: 'acme', properties: '{"$delete":""}' });
  });

  it('answers /groups as Mixpanel answers /engage: 1 / 0, {"status":...} with verbose=1', () => {
    const ok = { accepted: 1, total: 1, rejected: null, bodyBytes: 1, receivedAt: 0 };
    const bad = { accepted: 0, total: 1, rejected: [{ index: 0, code: 'missing_id', error: '$group_id is required', field: '$group_id' }], bodyBytes: 1, receivedAt: 0 };
    const plain = storedRecords('/groups', '{"$token":"k","$group_key":"c","$group_id":"a"}').decoded.replies;
    const verbose = storedRecords('/groups/', '{"$token":"k","$group_key":"c","$group_id":"a"}', 'verbose=1').decoded.replies;
    expect([plain.done(ok), plain.done(bad)]).toMatchObject([{ status: 200, body: '1' }, { status: 400, body: '0' }]);
    expect(JSON.parse(verbose.done(ok).body as string)).toEqual({ status: 1, error: null });
    expect(JSON.parse(verbose.done(bad).body as string)).toMatchObject({ status: 0, error: expect.stringContaining('$group_id is required') });
  });
});
