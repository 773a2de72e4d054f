import { readlinkSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { threadsOf } from '../../test/support/threads.js';
import { lowerBulkThreads, lowerNamedThreads, QUERY_BACKGROUND, THREAD } from './threads.js';

const linux = process.platform === 'linux';

/** A worker that names itself `name` (as ./threads.ts nameThread does), at `nice` if given, and waits to be terminated. */
function namedWorker(name: string, nice = 0): Promise<Worker> {
  const w = new Worker(
    `const fs = require('node:fs'); fs.writeFileSync('/proc/thread-self/comm', ${JSON.stringify(name)});` +
      `if (${nice} !== 0) require('node:os').setPriority(Number(fs.readlinkSync('/proc/thread-self').split('/').pop()), ${nice});` +
      `require('node:worker_threads').parentPort.postMessage('named'); setInterval(() => {}, 1000);`,
    { eval: true },
  );
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('error', reject);
  });
}

/** Nice of each thread of this process named `name`. */
function nices(name: string): number[] {
  return threadsOf().filter((t) => t.name === name).map((t) => t.nice);
}

/** The workers a test starts and the scan it runs, ended after each test of the enclosing block. */
function perTest(): { workers: Worker[]; ends(stop: () => void): void } {
  const workers: Worker[] = [];
  let stop = () => {};
  afterEach(async () => {
    stop();
    stop = () => {};
    await Promise.all(workers.splice(0).map((w) => w.terminate()));
  });
  return { workers, ends: (s) => (stop = s) };
}

describe.runIf(linux)('lowerBulkThreads', () => {
  const { workers, ends } = perTest();

  it('lowers the named bulk threads and threads of no known name, not the view or Node threads', async () => {
    workers.push(await namedWorker(THREAD.sinkDecode), await namedWorker(THREAD.viewBuilder), await namedWorker('SomePool'));
    const nodeBefore = nices('node');
    ends(await lowerBulkThreads([THREAD.sinkDecode], 7));
    expect(nices(THREAD.sinkDecode)).toEqual([7]);
    expect(nices('SomePool')).toEqual([7]);
    expect(nices(THREAD.viewBuilder)).toEqual([0]);
    expect(nices('node')).toEqual(nodeBefore);
    expect(nodeBefore.every((n) => n === 0)).toBe(true);
  });

  it('leaves a thread whose priority was set already as it is', async () => {
    workers.push(await namedWorker('ChosenPool', 3));
    ends(await lowerBulkThreads([], 7));
    expect(nices('ChosenPool')).toEqual([3]);
  });

  it("keeps Node's threads (libuv's pool among them) at their priority when renamed later, as chDB renames the pool's", async () => {
    ends(await lowerBulkThreads([], 7, 20));
    const self = readlinkSync('/proc/self');
    const nodeThread = threadsOf().find((t) => t.name === 'node' && String(t.tid) !== self)!;
    const comm = `/proc/self/task/${nodeThread.tid}/comm`;
    writeFileSync(comm, 'Unknown');
    try {
      // A thread of ours first seen as "Unknown" is lowered: the scan runs and would lower the renamed one.
      workers.push(await namedWorker('Unknown'));
      await expect.poll(() => nices('Unknown').sort(), { timeout: 10_000, interval: 20 }).toEqual([0, 7]);
      expect(threadsOf().find((t) => t.tid === nodeThread.tid)?.nice).toBe(0);
    } finally {
      writeFileSync(comm, 'node');
    }
  });

  it('lowers a bulk thread that names itself after the first scan', async () => {
    ends(await lowerBulkThreads([THREAD.stream], 7, 20));
    workers.push(await namedWorker(THREAD.stream));
    await expect.poll(() => nices(THREAD.stream), { timeout: 10_000, interval: 20 }).toEqual([7]);
  });
});

describe('QUERY_BACKGROUND', () => {
  it("is the view's builder and decode threads and the stream's, not the sink's or Node's", () => {
    expect([...QUERY_BACKGROUND].sort()).toEqual([THREAD.stream, THREAD.viewBuilder, THREAD.viewDecode].sort());
    expect(QUERY_BACKGROUND).not.toContain('node');
    expect(QUERY_BACKGROUND).not.toContain(THREAD.sinkDecode);
  });
});

describe.runIf(linux)('lowerNamedThreads', () => {
  const { workers, ends } = perTest();

  it("lowers the query's background threads and leaves threads of other names, Node's and the main thread", async () => {
    workers.push(
      await namedWorker(THREAD.viewBuilder),
      await namedWorker(THREAD.viewDecode),
      await namedWorker(THREAD.viewDecode),
      await namedWorker(THREAD.sinkDecode),
      await namedWorker('SomePool'),
    );
    const nodeBefore = nices('node');
    ends(lowerNamedThreads(QUERY_BACKGROUND, 10));
    expect(nices(THREAD.viewBuilder)).toEqual([10]);
    expect(nices(THREAD.viewDecode)).toEqual([10, 10]);
    expect(nices(THREAD.sinkDecode)).toEqual([0]);
    expect(nices('SomePool')).toEqual([0]);
    expect(nices('node')).toEqual(nodeBefore);
    expect(nodeBefore.every((n) => n === 0)).toBe(true);
  });

  it('lowers a background thread that starts after the first scan (the stream, once the view caught up)', async () => {
    ends(lowerNamedThreads(QUERY_BACKGROUND, 10, 20));
    workers.push(await namedWorker(THREAD.stream));
    await expect.poll(() => nices(THREAD.stream), { timeout: 10_000, interval: 20 }).toEqual([10]);
  });

  it('leaves a background thread whose priority was set already as it is', async () => {
    workers.push(await namedWorker(THREAD.viewBuilder, 3));
    ends(lowerNamedThreads(QUERY_BACKGROUND, 10));
    expect(nices(THREAD.viewBuilder)).toEqual([3]);
  });

  it('stops lowering once ended', async () => {
    const stop = lowerNamedThreads(QUERY_BACKGROUND, 10, 20);
    ends(stop);
    stop();
    workers.push(await namedWorker(THREAD.stream));
    await new Promise((r) => setTimeout(r, 200));
    expect(nices(THREAD.stream)).toEqual([0]);
  });
});
