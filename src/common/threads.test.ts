import { execFileSync } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { threadsOf } from '../../test/support/threads.js';
import { lowerBulkThreads, lowerNamedThreads, NODE_THREAD_NAMES, QUERY_BACKGROUND, THREAD } from './threads.js';

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

/**
 * Node's own threads in this process (NODE_THREAD_NAMES: which names depends on Node's version)
 * are all at nice 0, however many there are now (lowerBulkThreads starts libuv's pool itself).
 */
function expectNodeThreadsAtZero(): void {
  const nodeNices = threadsOf().filter((t) => NODE_THREAD_NAMES.has(t.name)).map((t) => t.nice);
  expect(nodeNices.length).toBeGreaterThan(1);
  expect(nodeNices.filter((n) => n !== 0)).toEqual([]);
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
    ends(await lowerBulkThreads([THREAD.sinkDecode], 7));
    expect(nices(THREAD.sinkDecode)).toEqual([7]);
    expect(nices('SomePool')).toEqual([7]);
    expect(nices(THREAD.viewBuilder)).toEqual([0]);
    expectNodeThreadsAtZero();
  });

  it('leaves a thread whose priority was set already as it is', async () => {
    workers.push(await namedWorker('ChosenPool', 3));
    ends(await lowerBulkThreads([], 7));
    expect(nices('ChosenPool')).toEqual([3]);
  });

  it("keeps Node's threads (libuv's pool among them) at their priority when renamed later, as chDB renames the pool's", async () => {
    ends(await lowerBulkThreads([], 7, 20));
    const self = readlinkSync('/proc/self');
    const nodeThread = threadsOf().find((t) => NODE_THREAD_NAMES.has(t.name) && String(t.tid) !== self)!;
    const comm = `/proc/self/task/${nodeThread.tid}/comm`;
    writeFileSync(comm, 'Unknown');
    try {
      // A thread of ours first seen as "Unknown" is lowered: the scan runs and would lower the renamed one.
      workers.push(await namedWorker('Unknown'));
      await expect.poll(() => nices('Unknown').sort(), { timeout: 10_000, interval: 20 }).toEqual([0, 7]);
      expect(threadsOf().find((t) => t.tid === nodeThread.tid)?.nice).toBe(0);
    } finally {
      writeFileSync(comm, nodeThread.name);
    }
  });

  it('lowers a bulk thread that names itself after the first scan', async () => {
    ends(await lowerBulkThreads([THREAD.stream], 7, 20));
    workers.push(await namedWorker(THREAD.stream));
    await expect.poll(() => nices(THREAD.stream), { timeout: 10_000, interval: 20 }).toEqual([7]);
  });
});

describe.runIf(linux)('NODE_THREAD_NAMES', () => {
  it("holds the name of every thread Node starts on its own (libuv's pool, V8's, a worker before it names itself), on the Node this runs", () => {
    // A fresh process: libuv's pool started (a file system call), a worker thread running.
    const script =
      "const { Worker } = require('node:worker_threads'); const fs = require('node:fs');" +
      "fs.stat('.', () => { const w = new Worker('setInterval(() => {}, 1000)', { eval: true }); w.on('online', () => setTimeout(() => {" +
      "const names = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'latin1').trim());" +
      'process.stdout.write(JSON.stringify(names)); process.exit(0); }, 200)); });';
    const names = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH } })) as string[];
    expect(names.length).toBeGreaterThan(4);
    expect(names.filter((n) => !NODE_THREAD_NAMES.has(n))).toEqual([]);
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
    ends(lowerNamedThreads(QUERY_BACKGROUND, 10));
    expect(nices(THREAD.viewBuilder)).toEqual([10]);
    expect(nices(THREAD.viewDecode)).toEqual([10, 10]);
    expect(nices(THREAD.sinkDecode)).toEqual([0]);
    expect(nices('SomePool')).toEqual([0]);
    expectNodeThreadsAtZero();
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
