// KAFKA_FASTPATH: kafkajs() loads kafkajs with the fast path, or as published. The first load of
// a process decides, so each case runs in a fresh process.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/support/env.js';

const dir = tempDir('trackhouse-kafkajs-');
afterAll(() => dir.remove());

const KAFKAJS = pathToFileURL(path.resolve('src/kafka/kafkajs.ts')).href;

function load(fastPath: boolean): { installed: boolean; grouping: string } {
  const file = path.join(dir.path, `probe-${fastPath}.mts`);
  writeFileSync(
    file,
    `import { createRequire } from 'node:module';
import { fastPathStatus, kafkajs } from ${JSON.stringify(KAFKAJS)};
kafkajs(${fastPath});
const require = createRequire(${JSON.stringify(KAFKAJS)});
// Ours is a named function; kafkajs's own module exports an anonymous arrow.
const grouping = require('kafkajs/src/producer/groupMessagesPerPartition.js');
process.stdout.write(JSON.stringify({ installed: fastPathStatus().installed, grouping: grouping.name }));
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { installed: boolean; grouping: string };
}

describe('kafkajs()', () => {
  it('loads kafkajs with the fast path by default', () => {
    expect(load(true)).toEqual({ installed: true, grouping: 'groupMessagesPerPartition' });
  });

  it('loads kafkajs as published when the fast path is turned off (KAFKA_FASTPATH=off)', () => {
    expect(load(false)).toEqual({ installed: false, grouping: '' });
  });
});
