import { describe, expect, it } from 'vitest';
import { segmentServerLibrary, withoutLastPart } from './clientip.js';

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

describe('segmentServerLibrary', () => {
  it("knows Segment's Python, Go, Java and Node libraries by their User-Agent, and nothing else", () => {
    for (const ua of ['analytics-python/2.4.0', 'analytics-go (version: 3.3.0)', 'analytics-java/3.5.4', 'analytics-node-next/latest', 'analytics-node/6.2.0']) {
      expect(segmentServerLibrary(ua), ua).toBe(true);
    }
    for (const ua of ['', 'Mozilla/5.0 (X11; Linux x86_64)', 'node', 'python-requests/2.34.2', 'posthog-python/7.91.1', 'posthog-node/5.0.0']) expect(segmentServerLibrary(ua), ua).toBe(false);
  });
});
