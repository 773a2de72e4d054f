// npm run bench [-- <scenario> ...]: runs the scenarios in order, each on a fresh local Kafka
// broker, and writes bench/results/<timestamp>.json and .md (plus latest.json / latest.md).
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { startLocalBroker, type LocalBroker } from '../src/localkafka/index.js';
import type { BenchSection, Scenario } from './types.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

const scenarios: Record<string, () => Promise<Scenario>> = {
  ingest: async () => (await import('./ingest.js')).run,
  sink: async () => (await import('./sink.js')).run,
  query: async () => (await import('./query.js')).run,
  e2e: async () => (await import('./e2e.js')).run,
};

function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  let java = '';
  try {
    java = execSync('java -version 2>&1', { encoding: 'utf8' }).split('\n')[0] ?? '';
  } catch {
    /* not needed for the record */
  }
  return {
    host: os.hostname(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    java,
    kafka: LOCAL_KAFKA_VERSION,
    load_avg_at_start: os.loadavg(),
  };
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length > 0 ? wanted : Object.keys(scenarios);
  for (const n of names) if (!scenarios[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(scenarios).join(', ')}`);
  const quick = process.env.BENCH_QUICK === '1';
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-bench-'));
  let broker: LocalBroker | undefined;
  const started = new Date();
  const sections: BenchSection[] = [];
  try {
    const external = process.env.BENCH_KAFKA_BROKERS;
    for (const name of names) {
      // A fresh broker per scenario, its data removed afterwards: the gigabytes one scenario
      // writes would otherwise be flushed to disk by the kernel while the next one measures.
      if (!external) {
        log(`${name}: starting a local Kafka broker`);
        broker = await startLocalBroker({
          dataDir: path.join(work, `kafka-${name}`),
          cacheDir: path.join(root, '.trackhouse'),
          version: LOCAL_KAFKA_VERSION,
          port: 0,
          controllerPort: 0,
          heapMb: 1024,
        });
      }
      const brokers = external ? external.split(',') : broker!.brokers;
      log(`scenario ${name}`);
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      const scenario = await scenarios[name]!();
      try {
        sections.push(await scenario({ brokers, workDir: dir, root, quick, log: (m) => log(`${name}: ${m}`) }));
      } finally {
        await broker?.stop();
        broker = undefined;
        rmSync(path.join(work, `kafka-${name}`), { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const out = path.join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  const json = { started: started.toISOString(), finished: new Date().toISOString(), quick, machine: machine(), command: `npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`, sections: Object.fromEntries(sections.map((s) => [s.name, s.results])) };
  const md = [`# trackhouse benchmark, ${started.toISOString()}${quick ? ' (quick run: figures not meaningful)' : ''}`, '', '```', JSON.stringify(json.machine, null, 2), '```', '', `Command: \`${json.command}\``, '', ...sections.map((s) => s.markdown)].join('\n');
  for (const [file, text] of [
    [`${stamp}.json`, JSON.stringify(json, null, 2)],
    [`${stamp}.md`, md],
    ['latest.json', JSON.stringify(json, null, 2)],
    ['latest.md', md],
  ] as const) {
    writeFileSync(path.join(out, file), `${text}\n`);
  }
  log(`wrote bench/results/${stamp}.json and .md`);
}

await main();
