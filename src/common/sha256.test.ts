import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256, SHA256_STATE } from './sha256.js';

const digest = (): string => {
  const d = Buffer.alloc(32);
  for (let k = 0; k < 8; k++) d.writeInt32BE(SHA256_STATE[k]!, 4 * k);
  return d.toString('hex');
};

describe('sha256', () => {
  it('gives node:crypto\'s SHA-256 for inputs of every length across the block and padding bounds, at any offset', () => {
    let x = 12345;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    for (let n = 0; n <= 300; n++) {
      const at = next() % 7;
      const buf = Buffer.alloc(at + n + 5);
      for (let i = 0; i < buf.length; i++) buf[i] = next() >>> 24;
      sha256(buf, at, at + n);
      expect(digest(), `length ${n}`).toBe(createHash('sha256').update(buf.subarray(at, at + n)).digest('hex'));
    }
  });

  it('gives the known digests of the empty input and "abc"', () => {
    sha256(Buffer.alloc(0), 0, 0);
    expect(digest()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    sha256(Buffer.from('abc'), 0, 3);
    expect(digest()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
