import { describe, expect, it } from 'vitest';
import { analyticsSettings, apiHostOf, pageProtocol } from './settings.js';

describe("analytics.js's project settings", () => {
  it('point the Segment.io destination at the host and protocol given, with metrics off', () => {
    const s = JSON.parse(analyticsSettings('k1', 'ingest.example:8443', 'https'));
    expect(s.integrations).toEqual({ 'Segment.io': expect.objectContaining({ apiKey: 'k1', apiHost: 'ingest.example:8443/v1', protocol: 'https' }) });
    expect(s.metrics).toEqual({ sampleRate: 0 });
    expect(s.remotePlugins).toEqual([]);
  });

  it("take the protocol from a proxy's X-Forwarded-Proto when it says http or https, else the listener's", () => {
    expect([pageProtocol('https, http', false), pageProtocol('HTTP', true), pageProtocol('', true), pageProtocol('wss', false)]).toEqual(['https', 'http', 'https', 'http']);
  });

  it('write back only a Host that is a host[:port]', () => {
    expect([apiHostOf('127.0.0.1:8080'), apiHostOf('ingest.example'), apiHostOf('[::1]:8080')]).toEqual(['127.0.0.1:8080', 'ingest.example', '[::1]:8080']);
    expect([apiHostOf(''), apiHostOf('evil.example/x'), apiHostOf('a b'), apiHostOf('h:123456')]).toEqual([null, null, null, null]);
  });
});
