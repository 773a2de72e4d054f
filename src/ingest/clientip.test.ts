import { describe, expect, it } from 'vitest';
import { withoutLastPart } from './clientip.js';

describe('withoutLastPart', () => {
  it("zeroes an address's last octet or group, as Jitsu's stripLastOctet stores it", () => {
    expect(withoutLastPart('203.0.113.9')).toBe('203.0.113.0');
    expect(withoutLastPart('2001:db8::7')).toBe('2001:db8::0');
    expect(withoutLastPart('2001:db8:1:2:3:4:5:ffff')).toBe('2001:db8:1:2:3:4:5:0');
    expect(withoutLastPart('::1')).toBe('::0');
    expect(withoutLastPart('::ffff:203.0.113.9')).toBe('::ffff:203.0.113.0');
    expect(withoutLastPart('not an address')).toBe('not an address');
  });
});
