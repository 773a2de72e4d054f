import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';

describe('ingest settings', () => {
  it('has defaults that keep a produce request under the broker 1 MB limit', () => {
    const c = loadConfig({}, '/tmp').ingest;
    expect(c).toMatchObject({ threads: 1, ackTimeoutMs: 10_000, produceMaxBytes: 1_000_000, producerLanes: 1, lingerMs: 5, lingerBytes: 16 * 1024, retryAfterS: 5, maxBatchBytes: 500 * 1024, maxEventBytes: 32 * 1024 });
  });

  it('names the variable of a bad value', () => {
    for (const [name, value] of [
      ['INGEST_THREADS', '0'],
      ['INGEST_ACK_TIMEOUT_MS', 'soon'],
      ['INGEST_MAX_PENDING_BYTES', '10'],
      ['INGEST_PRODUCE_MAX_BYTES', '1.5'],
      ['INGEST_RETRY_AFTER_S', '-1'],
      ['INGEST_PRODUCER_LANES', '17'],
      ['INGEST_PRODUCE_LINGER_MS', '-1'],
      ['INGEST_PRODUCE_LINGER_BYTES', '100'],
    ]) {
      expect(() => loadConfig({ [name!]: value }, '/tmp')).toThrow(new RegExp(`${name}: expected an integer`));
    }
  });

  it('takes INGEST_COOKIELESS_SECRET of 32 characters or more, and none by default', () => {
    expect(loadConfig({}, '/tmp').ingest.cookielessSecret).toBeNull();
    const secret = 'a'.repeat(32);
    expect(loadConfig({ INGEST_COOKIELESS_SECRET: secret }, '/tmp').ingest.cookielessSecret).toBe(secret);
    expect(() => loadConfig({ INGEST_COOKIELESS_SECRET: 'short' }, '/tmp')).toThrow(/INGEST_COOKIELESS_SECRET: expected at least 32 characters/);
  });

  it('never repeats INGEST_COOKIELESS_SECRET in its error: a real secret cut short would end up in terminals and pod logs', () => {
    const cut = '7f3c9a1e5b2d8f4a6c0e9b3d7a1f5c2';
    let message = '';
    try {
      loadConfig({ INGEST_COOKIELESS_SECRET: cut }, '/tmp');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/INGEST_COOKIELESS_SECRET: expected at least 32 characters/);
    expect(message).not.toContain(cut);
  });
});
