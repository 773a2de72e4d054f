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

  it("knows Segment's Ruby, PHP and .NET libraries, and not its mobile ones, whose address Segment fills", () => {
    // segmentio/analytics-ruby lib/segment/analytics/defaults.rb:11 ("analytics-ruby/#{Analytics::VERSION}");
    // segmentio/analytics-php lib/Consumer/LibCurl.php:57-61 (and Socket.php createBody, ForkCurl.php
    // flushBatch): "$libName/$libVersion" of context.library, 'analytics-php' (lib/Client.php getDefaultContext);
    // segmentio/Analytics.NET Analytics/Config.cs:71-79 and Model/Context.cs: "Analytics.NET/<VERSION>".
    for (const ua of ['analytics-ruby/2.2.3.pre', 'analytics-php/3.8.0', 'Analytics.NET/3.8.1']) {
      expect(segmentServerLibrary(ua), ua).toBe(true);
    }
    const mobile = [
      'analytics-ios/1.5.14', // analytics-swift HTTPClient.swift configuredRequest, analytics-ios SEGHTTPClient.m: "analytics-ios/<v>"
      'analytics-android/4.11.3', // analytics-android ConnectionFactory.java:20
      'analytics-kotlin/1.19.2', // analytics-kotlin core HTTPClient.kt:48-51 (Android and JVM alike)
      'analytics-flutter/1.1.0', // analytics_flutter packages/core/lib/utils/http_client.dart _configuredRequest
      'okhttp/4.9.2', // analytics-react-native sets none (packages/core/src/api.ts): its platform's default
    ];
    // RudderStack's Ruby, PHP and .NET SDKs send their own (rudder-sdk-ruby: Net::HTTP's default "Ruby").
    const rudder = ['Ruby', 'rudder-analytics-php/2.1.0', 'RudderAnalytics.NET/3.1.0'];
    for (const ua of [...mobile, ...rudder]) expect(segmentServerLibrary(ua), ua).toBe(false);
  });
});
