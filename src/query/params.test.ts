import { describe, expect, it } from 'vitest';
import { encodeCursor, scopeFingerprint } from './cursor.js';
import { InvalidParameterError } from './errors.js';
import { rng } from '../../test/support/rng.js';
import { ceilToDay, eventsCacheKey, eventsRequest, parseEventsRequest, parseRollupsRequest, utcDay } from './params.js';

const limits = { defaultLimit: 100, maxLimit: 1000 };

function refusal(fn: () => unknown): { parameter: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidParameterError);
    const e = err as InvalidParameterError;
    return { parameter: e.parameter, message: e.message };
  }
  throw new Error('expected an InvalidParameterError');
}

describe('parseEventsRequest', () => {
  it('applies defaults when only the user is given', () => {
    const r = parseEventsRequest('user-1', '', limits);
    expect(r).toMatchObject({ userKey: 'user-1', from: null, to: null, type: null, event: null, limit: 100, cursor: null });
  });

  it('percent-decodes the user id and every query value', () => {
    const r = parseEventsRequest('a%2Fb%20c%C3%A9%27', 'event=Order%20Completed&type=track&limit=5&from=2026-08-01T00%3A00%3A00%2B02%3A00', limits);
    expect(r.userKey).toBe("a/b cé'");
    expect(r.event).toBe('Order Completed');
    expect(r.type).toBe('track');
    expect(r.limit).toBe(5);
    expect(r.from).toBe(Date.UTC(2026, 6, 31, 22));
  });

  it.each([
    ['userId', '%E0%A4%A', ''],
    ['userId', '', ''],
    ['userId', 'x'.repeat(8193), ''],
    ['limit', 'u', 'limit=0'],
    ['limit', 'u', 'limit=1001'],
    ['limit', 'u', 'limit=-1'],
    ['limit', 'u', 'limit=1.5'],
    ['limit', 'u', 'limit=ten'],
    ['limit', 'u', 'limit=%2B5'],
    ['limit', 'u', 'limit='],
    ['type', 'u', 'type=Track'],
    ['type', 'u', 'type=pageview'],
    ['from', 'u', 'from=2026-08-01T00:00:00'],
    ['from', 'u', 'from=garbage'],
    ['to', 'u', 'to=2026-02-30'],
    ['from', 'u', 'from=2026-08-02&to=2026-08-01'],
    ['from', 'u', 'from=2026-08-01&to=2026-08-01'],
    ['cursor', 'u', 'cursor=not-a-cursor'],
    ['cursor', 'u', 'cursor=%25%25'],
    ['cursor', 'u', `cursor=${'A'.repeat(5000)}`],
    ['event', 'u', `event=${'e'.repeat(8193)}`],
    ['event', 'u', 'event=%E0%A4'],
    ['event', 'u', 'event=50%'],
    ['sort', 'u', 'sort=asc'],
    ['type', 'u', 'type=track&type=page'],
    ['userId', 'u', 'userId=x'],
  ])('refuses bad %s (%j ? %j) naming it', (parameter, user, query) => {
    expect(refusal(() => parseEventsRequest(user, query, limits)).parameter).toBe(parameter);
  });

  it('refuses a cursor made for other filters or another user, accepts it with another limit', () => {
    const scope = { userKey: 'u', from: null, to: null, type: 'track', event: null };
    const cursor = encodeCursor({ ts: Date.UTC(2026, 7, 1), id: 'e1' }, scopeFingerprint(scope));
    expect(parseEventsRequest('u', `type=track&limit=7&cursor=${cursor}`, limits).cursor).toEqual({ ts: Date.UTC(2026, 7, 1), id: 'e1' });
    expect(refusal(() => parseEventsRequest('u', `type=page&cursor=${cursor}`, limits)).message).toContain('other filters');
    expect(refusal(() => parseEventsRequest('v', `type=track&cursor=${cursor}`, limits)).parameter).toBe('cursor');
    expect(refusal(() => parseEventsRequest('u', `cursor=${cursor}`, limits)).parameter).toBe('cursor');
  });

  it('gives requests that select the same answer the same cache key, and others a different one', () => {
    const a = eventsCacheKey(parseEventsRequest('u', 'limit=050&from=2026-08-01', limits));
    const b = eventsCacheKey(parseEventsRequest('u', 'from=2026-08-01T00:00:00Z&limit=50', limits));
    const c = eventsCacheKey(parseEventsRequest('u', 'from=2026-08-01&limit=51', limits));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});

describe('eventsRequest (decoded values, as GraphQL has them)', () => {
  /** The request, or the refusal's parameter and message. */
  const outcome = (fn: () => unknown) => {
    try {
      return { ok: fn() };
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidParameterError);
      return { refused: [(err as InvalidParameterError).parameter, (err as Error).message] };
    }
  };
  const cursor = encodeCursor({ ts: 1_780_000_000_000, id: 'e-1' }, scopeFingerprint({ userKey: 'u é', from: null, to: null, type: null, event: null }));
  const PICK: Record<string, unknown[]> = {
    from: [undefined, null, '', '2026-08-01T00:00:00Z', '2026-08-01', 'soon', '2026-09-01T00:00:00+02:00'],
    to: [undefined, null, '2026-08-02T00:00:00Z', '2026-07-01T00:00:00Z'],
    type: [undefined, null, 'track', 'page', 'click', ''],
    event: [undefined, null, 'Order Completed', 'a&b=c', '', 'x'.repeat(300)],
    limit: [undefined, null, 0, 1, 5, 1000, 1001, -3],
    cursor: [undefined, null, cursor, 'nope', ''],
  };
  it('answers and refuses as parseEventsRequest does for the same values sent as a query string', () => {
    const r = rng(5);
    let refused = 0;
    for (let n = 0; n < 2000; n++) {
      const userKey = ['u é', 'a/b?c', '', 'x'.repeat(300)][Math.floor(r() * 4)]!;
      const values: Record<string, unknown> = {};
      const query = new URLSearchParams();
      for (const [name, options] of Object.entries(PICK)) {
        const v = options[Math.floor(r() * options.length)];
        values[name] = v;
        if (v !== null && v !== undefined) query.set(name, String(v));
      }
      const want = outcome(() => parseEventsRequest(encodeURIComponent(userKey), query.toString(), limits));
      expect(outcome(() => eventsRequest(userKey, values, limits)), JSON.stringify({ userKey, values })).toEqual(want);
      if ('refused' in want) refused++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThan(2000);
  });
});

describe('parseRollupsRequest', () => {
  it('selects every UTC day whose midnight lies in [from, to)', () => {
    expect(parseRollupsRequest('by=event&from=2026-08-01&to=2026-08-08')).toMatchObject({ fromDay: '2026-08-01', toDay: '2026-08-08', empty: false });
    // A day that started before `from` is left out; one that started before `to` is in.
    expect(parseRollupsRequest('by=event&from=2026-08-01T12:00:00Z&to=2026-08-08T00:00:01Z')).toMatchObject({ fromDay: '2026-08-02', toDay: '2026-08-09' });
    expect(parseRollupsRequest('by=group&from=2026-08-01T01:00:00Z&to=2026-08-01T23:00:00Z')).toMatchObject({ empty: true });
    expect(parseRollupsRequest('by=category')).toMatchObject({ by: 'category', fromDay: null, toDay: null, source: null, empty: false });
  });

  it('keeps bounds outside the Date range out of the query', () => {
    expect(parseRollupsRequest('by=event&from=1950-01-01&to=2200-01-01')).toMatchObject({ fromDay: null, toDay: null, empty: false });
    expect(parseRollupsRequest('by=event&from=2200-01-01')).toMatchObject({ empty: true });
    expect(parseRollupsRequest('by=event&to=1960-01-01')).toMatchObject({ empty: true });
  });

  it.each([
    ['by', ''],
    ['by', 'by=user'],
    ['by', 'by=event&by=group'],
    ['from', 'by=event&from=2026-08-08&to=2026-08-01'],
    ['to', 'by=event&to=tomorrow'],
    ['source', 'by=event&source=a%20b'],
    ['source', `by=event&source=${'s'.repeat(65)}`],
    ['limit', 'by=event&limit=5'],
  ])('refuses bad %s (%j) naming it', (parameter, query) => {
    expect(refusal(() => parseRollupsRequest(query)).parameter).toBe(parameter);
  });
});

describe('day helpers', () => {
  it('ceilToDay keeps midnights and moves other instants to the next midnight', () => {
    expect(ceilToDay(Date.UTC(2026, 7, 1))).toBe(Date.UTC(2026, 7, 1));
    expect(ceilToDay(Date.UTC(2026, 7, 1, 0, 0, 0, 1))).toBe(Date.UTC(2026, 7, 2));
    expect(utcDay(Date.UTC(2026, 7, 1, 23, 59))).toBe('2026-08-01');
  });
});
