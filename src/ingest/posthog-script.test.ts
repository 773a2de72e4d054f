import { describe, expect, it } from 'vitest';
import { posthogConfigScript } from './formats/posthog-sdk.js';
import { MAX_ARRAY_SCRIPTS, PosthogArrayScripts } from './posthog-script.js';

describe('PosthogArrayScripts', () => {
  const arrayJs = Buffer.from('/* array.js */');

  it('joins array.js, a blank line and the token\'s config script, once per token', () => {
    const scripts = new PosthogArrayScripts(arrayJs);
    const a = scripts.body('key-a');
    expect(a.toString('utf8')).toBe(`/* array.js */\n\n${posthogConfigScript('key-a').body}`);
    expect(scripts.body('key-a')).toBe(a);
    expect(scripts.body('key-b').toString('utf8')).toContain('"key-b"');
    expect(scripts.size).toBe(2);
  });

  it('keeps at most its bound, dropping the oldest, which is built again when asked', () => {
    const scripts = new PosthogArrayScripts(arrayJs, 2);
    const first = scripts.body('k1');
    scripts.body('k2');
    scripts.body('k3');
    expect(scripts.size).toBe(2);
    const again = scripts.body('k1');
    expect(again).not.toBe(first);
    expect(again.equals(first)).toBe(true);
    expect(scripts.size).toBe(2);
    // Without a bound given, MAX_ARRAY_SCRIPTS.
    const unbounded = new PosthogArrayScripts(arrayJs);
    for (let i = 0; i <= MAX_ARRAY_SCRIPTS; i++) unbounded.body(`key-${i}`);
    expect(unbounded.size).toBe(MAX_ARRAY_SCRIPTS);
  });
});
