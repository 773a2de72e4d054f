import { describe, expect, it } from 'vitest';
import { adminName, parseAuditQuery } from './routes.js';

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

});
