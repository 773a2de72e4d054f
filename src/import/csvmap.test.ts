import { describe, expect, it } from 'vitest';
import { csvCall, parseCsvMapping } from './csvmap.js';
import { derivedEventId } from './ids.js';

describe('CSV column mapping', () => {
  it('maps columns to fields and nested fields, the rest into properties, digit times as Unix s or ms', () => {
    const m = parseCsvMapping('userId=who, event=what,timestamp=when,context.ip=addr', 'track');
    expect(csvCall(m, { who: 'u1', what: 'Bought', when: '1496318400', addr: '1.2.3.4', plan: 'pro', empty: '' })).toEqual({
      type: 'track',
      userId: 'u1',
      event: 'Bought',
      timestamp: 1496318400000,
      context: { ip: '1.2.3.4' },
      properties: { plan: 'pro' },
    });
    expect(csvCall(m, { who: 'u1', what: 'x', when: '1496318400123' }).timestamp).toBe(1496318400123);
    expect(csvCall(m, { who: 'u1', what: 'x', when: '2017-06-01T12:00:00Z' }).timestamp).toBe('2017-06-01T12:00:00Z');
    expect(csvCall(parseCsvMapping('userId=u', 'identify'), { u: 'a', email: 'e@x' })).toEqual({ type: 'identify', userId: 'a', traits: { email: 'e@x' } });
  });

  it('refuses a mapping it cannot use, naming the pair', () => {
    expect(() => parseCsvMapping('user=who', 'track')).toThrow(/"user" is not a field/);
    expect(() => parseCsvMapping('userId', 'track')).toThrow(/expected field=column/);
    expect(() => parseCsvMapping('', 'Track')).toThrow(/--csv-type/);
  });
});

describe('derived event ids', () => {
  it('are the same UUID for the same file and position, different otherwise', () => {
    const a = derivedEventId('f1', 10, 0);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedEventId('f1', 10, 0)).toBe(a);
    expect(new Set([a, derivedEventId('f1', 11, 0), derivedEventId('f1', 10, 1), derivedEventId('f2', 10, 0)]).size).toBe(4);
  });
});
