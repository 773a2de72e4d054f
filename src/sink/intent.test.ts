import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';
import { blockIntent, intentText, readIntent, removeIntent, writeIntent } from './intent.js';

describe('insert intent file', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  beforeEach(() => {
    dir = tempDir('th-partial-intent-');
    file = path.join(dir.path, 'insert-intent.json');
  });
  afterEach(() => dir.remove());

  const intent = blockIntent(
    'events-topic',
    'sink-abc-0:10-20,2:5-9',
    new Map([
      [0, [10, 20]],
      [2, [5, 9]],
    ]),
  );

  it('reads back what was written, and leaves no temporary file', () => {
    writeIntent(file, intent);
    expect(readIntent(file, 'other')).toEqual({ status: 'ok', intent: { topic: 'events-topic', token: 'sink-abc-0:10-20,2:5-9', ranges: [[0, 10, 20], [2, 5, 9]] } });
    expect(readdirSync(dir.path)).toEqual(['insert-intent.json']);
  });

  it('keeps the saved days of a repair', () => {
    writeIntent(file, { ...intent, days: ['2026-10-30', '2026-10-31'] });
    const r = readIntent(file, 'other');
    expect(r.status === 'ok' && r.intent.days).toEqual(['2026-10-30', '2026-10-31']);
  });

  it('a second write replaces the first, and removal makes it absent (twice is fine)', () => {
    writeIntent(file, intent);
    writeIntent(file, blockIntent('events-topic', 't2', new Map([[1, [7, 7]]])));
    const r = readIntent(file, 'other');
    expect(r.status === 'ok' && r.intent.ranges).toEqual([[1, 7, 7]]);
    removeIntent(file);
    removeIntent(file);
    expect(existsSync(file)).toBe(false);
    expect(readIntent(file, 'events-topic')).toEqual({ status: 'absent' });
  });

  it('a torn file gives every complete partition range still in it', () => {
    const text = intentText({ ...intent, ranges: [[0, 10, 20], [2, 5, 9], [4, 100, 200]] });
    writeFileSync(file, text.slice(0, text.indexOf('[4,100') + 5));
    expect(readIntent(file, 'fallback')).toEqual({
      status: 'partial',
      intent: { topic: 'events-topic', token: '', ranges: [[0, 10, 20], [2, 5, 9]] },
      problem: expect.stringContaining('not JSON'),
    });
  });

  it('JSON with some bad ranges gives the good ones', () => {
    writeFileSync(file, JSON.stringify({ v: 1, topic: 't', token: 'x', ranges: [[0, 1, 2], [1, 5, 3], [-1, 0, 0], 'x', [2, 1.5, 3]] }));
    const r = readIntent(file, 'fallback');
    expect(r.status).toBe('partial');
    expect(r.status === 'partial' && r.intent.ranges).toEqual([[0, 1, 2]]);
  });

  it('a file naming no range, or empty, is unreadable, not a crash; the topic falls back when missing', () => {
    writeFileSync(file, '');
    expect(readIntent(file, 'fallback').status).toBe('unreadable');
    writeFileSync(file, '{"v":1,"topic":"t","ranges":[]}');
    expect(readIntent(file, 'fallback').status).toBe('unreadable');
    writeFileSync(file, '\u0000\u0001garbage');
    expect(readIntent(file, 'fallback').status).toBe('unreadable');
    writeFileSync(file, '{"ranges":[[3,4,5]]}');
    expect(readIntent(file, 'fallback')).toMatchObject({ status: 'partial', intent: { topic: 'fallback', ranges: [[3, 4, 5]] } });
  });
});
