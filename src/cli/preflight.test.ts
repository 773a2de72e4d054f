import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkNode, NODE_RANGE } from './preflight.js';
import { PrerequisiteError } from '../common/errors.js';

describe('checkNode follows package.json engines (^20.10.0 || ^22.0.0 || ^24.0.0)', () => {
  it('accepts Node 20.10 and later 20.x, every 22.x and 24.x', () => {
    for (const v of ['20.10.0', '20.20.2', '22.0.0', '22.23.5', '24.0.0', '24.22.3']) expect(() => checkNode(v)).not.toThrow();
  });

  it.each(['18.19.0', '20.9.0', '21.7.0', '23.11.0', '25.9.0', '26.1.0'])('refuses Node %s, naming the version and what to install', (v) => {
    expect(() => checkNode(v)).toThrow(PrerequisiteError);
    expect(() => checkNode(v)).toThrow(new RegExp(`this is Node ${v.replace(/\./g, '\\.')}.*nvm install 24`));
  });

  it('is the range package.json declares', () => {
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    const declared = engines.split('||').map((r) => r.trim().replace(/^\^/, '').split('.').map(Number));
    expect(Object.fromEntries(declared.map(([major, minor]) => [major, minor]))).toEqual(NODE_RANGE);
  });
});
