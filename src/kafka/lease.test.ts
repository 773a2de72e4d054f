import { describe, expect, it } from 'vitest';
import { leaseHolder } from './lease.js';

describe('leaseHolder (the sticky lease assignor)', () => {
  it('keeps the lease with the member that holds it, whatever ids joined since', () => {
    expect(leaseHolder([{ memberId: 'b', holds: true }, { memberId: 'a', holds: false }, { memberId: 'c', holds: false }])).toBe('b');
  });
  it('gives a lease nobody holds to the first member by id, the same on every member', () => {
    expect(leaseHolder([{ memberId: 'c', holds: false }, { memberId: 'a', holds: false }, { memberId: 'b', holds: false }])).toBe('a');
    expect(leaseHolder([])).toBeNull();
  });
  it('decides the same way whatever order the broker lists the members in when two claim it', () => {
    const members = [{ memberId: 'y', holds: true }, { memberId: 'x', holds: true }];
    expect(leaseHolder(members)).toBe('x');
    expect(leaseHolder([...members].reverse())).toBe('x');
  });
});
