import { describe, expect, it } from 'vitest';
import { adminName, parseAuditQuery, parseRegulationBody, regulationReply, MAX_USERS_PER_REGULATION } from './routes.js';

const fields = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return { code: (e as { code?: string }).code, parameter: (e as { parameter?: string }).parameter, message: (e as Error).message };
  }
  return null;
};

describe('admin routes input', () => {
  it('takes an admin key as a bearer token and names its owner; anything else is refused', () => {
    const keys = new Map([['ak', 'alice']]);
    expect(adminName(keys, 'Bearer ak')).toBe('alice');
    expect(adminName(keys, 'bearer   ak ')).toBe('alice');
    expect(fields(() => adminName(keys, ''))).toMatchObject({ code: 'unauthorized' });
    expect(fields(() => adminName(keys, 'Basic ak'))).toMatchObject({ code: 'unauthorized' });
    expect(fields(() => adminName(keys, 'Bearer rk'))).toMatchObject({ code: 'unauthorized', message: 'not an admin key' });
  });

  it('reads a regulation request and names the field at fault', () => {
    expect(parseRegulationBody('{"type":"suppress_with_delete","user_ids":["u1","u2"]}')).toEqual({ type: 'suppress_with_delete', userIds: ['u1', 'u2'] });
    expect(fields(() => parseRegulationBody('{'))).toMatchObject({ code: 'malformed_json' });
    expect(fields(() => parseRegulationBody('[]'))).toMatchObject({ parameter: 'body' });
    expect(fields(() => parseRegulationBody('{"type":"erase","user_ids":["u"]}'))).toMatchObject({ parameter: 'type' });
    expect(fields(() => parseRegulationBody('{"type":"delete"}'))).toMatchObject({ parameter: 'user_ids' });
    expect(fields(() => parseRegulationBody('{"type":"delete","user_ids":["ok", 7]}'))).toMatchObject({ parameter: 'user_ids', message: expect.stringContaining('user_ids[1]') });
    expect(fields(() => parseRegulationBody('{"type":"delete","user_ids":[""]}'))).toMatchObject({ parameter: 'user_ids' });
    const many = JSON.stringify({ type: 'delete', user_ids: Array.from({ length: MAX_USERS_PER_REGULATION + 1 }, (_, i) => `u${i}`) });
    expect(fields(() => parseRegulationBody(many))).toMatchObject({ parameter: 'user_ids' });
    expect(fields(() => parseRegulationBody('{"type":"delete","user_ids":["u"],"regulation":"x"}'))).toMatchObject({ parameter: 'regulation' });
  });

  it('reads the audit query: ISO times with a zone, a known action, a bounded limit', () => {
    expect(parseAuditQuery('')).toEqual({ from: null, to: null, action: null, limit: 1000 });
    expect(parseAuditQuery('from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&action=replay&limit=5')).toEqual({
      from: Date.UTC(2026, 11, 1),
      to: Date.UTC(2026, 11, 2),
      action: 'replay',
      limit: 5,
    });
    expect(fields(() => parseAuditQuery('action=drop'))).toMatchObject({ parameter: 'action' });
    expect(fields(() => parseAuditQuery('from=yesterday'))).toMatchObject({ parameter: 'from' });
    expect(fields(() => parseAuditQuery('from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z'))).toMatchObject({ parameter: 'from' });
    expect(fields(() => parseAuditQuery('limit=0'))).toMatchObject({ parameter: 'limit' });
    expect(fields(() => parseAuditQuery('user=x'))).toMatchObject({ parameter: 'user' });
  });

  it('answers a regulation with how many users, never their ids', () => {
    const body = regulationReply({
      id: 'reg_1',
      type: 'delete',
      status: 'finished',
      actor: 'dpo',
      userKeys: ['alice@example.com'],
      createdAt: 0,
      finishedAt: 1000,
      counts: { events: 3, days: 2, viewEvents: 3 },
      error: null,
    });
    expect(body).toEqual({
      id: 'reg_1',
      type: 'delete',
      status: 'finished',
      actor: 'dpo',
      users: 1,
      created_at: '1970-01-01T00:00:00.000Z',
      finished_at: '1970-01-01T00:00:01.000Z',
      counts: { events: 3, rollup_days: 2, view_events: 3 },
      error: null,
    });
    expect(JSON.stringify(body)).not.toContain('alice');
  });
});
