import { describe, expect, it } from 'vitest';
import { applyRegulation, ErasureList, userHash, userRecordKey } from './list.js';

const key = (s: string) => Buffer.from(s);

describe('the erasure list', () => {
  it('skips nothing while nobody is erased', () => {
    const l = new ErasureList();
    expect(l.skipsRecord(key('u1'), '1000')).toBe(false);
    expect(l.suppressed('u1')).toBe(false);
  });

  it('delete skips the user\'s records up to the time of the request and keeps later ones (new data)', () => {
    const l = new ErasureList();
    l.setUser('u1', applyRegulation(undefined, 'u1', 'delete', 'r1', 5_000));
    expect(l.skipsRecord(key('u1'), '4999')).toBe(true);
    expect(l.skipsRecord(key('u1'), 5_000)).toBe(true);
    expect(l.skipsRecord(key('u1'), '5001')).toBe(false);
    expect(l.skipsRecord(key('u2'), '10')).toBe(false);
    expect(l.skipsRecord(null, '10')).toBe(false);
    expect(l.suppressed('u1')).toBe(false);
    expect(l.refusesImport('u1')).toBe('user_erased');
    expect(l.refusesImport('u2')).toBeNull();
  });

  it('suppress refuses new events without erasing stored ones; suppress_with_delete skips every record', () => {
    const l = new ErasureList();
    l.setUser('s', applyRegulation(undefined, 's', 'suppress', 'r1', 5_000));
    expect(l.suppressed('s')).toBe(true);
    expect(l.skipsRecord(key('s'), '1')).toBe(false);
    expect(l.refusesImport('s')).toBe('user_suppressed');
    l.setUser('d', applyRegulation(undefined, 'd', 'suppress_with_delete', 'r2', 5_000));
    expect(l.suppressed('d')).toBe(true);
    expect(l.skipsRecord(key('d'), '99999999')).toBe(true);
  });

  it('merges regulations: a later delete keeps a suppression, and moves the erasure time forward', () => {
    const a = applyRegulation(undefined, 'u', 'suppress', 'r1', 1_000);
    const b = applyRegulation(a, 'u', 'delete', 'r2', 2_000);
    expect(b).toMatchObject({ suppressed: true, erasedUpTo: 2_000, erasedAll: false, regulations: ['r1', 'r2'] });
    expect(a.regulations).toEqual(['r1']);
    expect(applyRegulation(undefined, 'u', 'delete', 'r3', 2_000, 60_000).erasedUpTo).toBe(62_000);
  });

  it('reads states and regulations back from topic records, and a tombstone lifts a state', () => {
    const l = new ErasureList();
    const seen: string[] = [];
    l.onUser((s) => seen.push(s.userKey));
    l.applyRecord(userRecordKey('u1'), Buffer.from(JSON.stringify(applyRegulation(undefined, 'u1', 'suppress_with_delete', 'r1', 7))));
    l.applyRecord('r/r1', Buffer.from(JSON.stringify({ id: 'r1', status: 'finished' })));
    expect(l.skipsRecord(key('u1'), 1)).toBe(true);
    expect(l.regulations.get('r1')?.status).toBe('finished');
    expect(seen).toEqual(['u1']);
    l.applyRecord(userRecordKey('u1'), null);
    expect(l.skipsRecord(key('u1'), 1)).toBe(false);
    expect(l.suppressed('u1')).toBe(false);
  });

  it('names users in the audit trail by a hash, never the id', () => {
    expect(userHash('alice@example.com')).toMatch(/^[0-9a-f]{64}$/);
    expect(userHash('alice@example.com')).not.toContain('alice');
  });
});
