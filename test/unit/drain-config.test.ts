import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { loadConfig } from '../../src/config/index.js';

describe('SHUTDOWN_DRAIN_DELAY_MS', () => {
  it('defaults to 5 s for the services and 0 for trackhouse start', () => {
    const c = loadConfig({});
    expect(c.drainDelayMs).toBe(5_000);
    expect(c.allInOneDrainDelayMs).toBe(0);
  });

  it('when unset stays within half of a short SHUTDOWN_TIMEOUT_MS', () => {
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '4000' }).drainDelayMs).toBe(2_000);
  });

  it('when set applies to every command, trackhouse start included', () => {
    const c = loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '8000', SHUTDOWN_TIMEOUT_MS: '25000' });
    expect(c.drainDelayMs).toBe(8_000);
    expect(c.allInOneDrainDelayMs).toBe(8_000);
    expect(loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '0' }).drainDelayMs).toBe(0);
  });

  it('must be less than SHUTDOWN_TIMEOUT_MS, and the message names both', () => {
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '15000' })).toThrow(ConfigError);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '15000' })).toThrow(
      /SHUTDOWN_DRAIN_DELAY_MS: must be less than SHUTDOWN_TIMEOUT_MS \(15000\).*\(got "15000"\)/,
    );
  });

  it('must be a non-negative integer', () => {
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '-1' })).toThrow(/SHUTDOWN_DRAIN_DELAY_MS: expected an integer between 0 and 600000/);
    expect(() => loadConfig({ SHUTDOWN_DRAIN_DELAY_MS: '5s' })).toThrow(/SHUTDOWN_DRAIN_DELAY_MS: expected an integer/);
  });
});
