import { describe, expect, it } from 'vitest';
import { checkNode } from './preflight.js';
import { PrerequisiteError } from '../common/errors.js';

describe('checkNode follows package.json engines (>=20.10 <21)', () => {
  it('accepts Node 20.10 and later 20.x', () => {
    expect(() => checkNode('20.10.0')).not.toThrow();
    expect(() => checkNode('20.20.2')).not.toThrow();
  });

  it.each(['18.19.0', '20.9.0', '21.0.0', '22.11.0'])('refuses Node %s, naming the version and what to install', (v) => {
    expect(() => checkNode(v)).toThrow(PrerequisiteError);
    expect(() => checkNode(v)).toThrow(new RegExp(`this is Node ${v.replace(/\./g, '\\.')}.*nvm install 20`));
  });
});
