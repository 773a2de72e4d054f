// npm run bench [-- <scenario> ...]: runs the scenarios in order, each on a fresh local Kafka
// broker, and writes bench/results/<timestamp>.json and .md (plus latest.json / latest.md).
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { startLocalBroker, type LocalBroker } from '../src/localkafka/index.js';
import { atInterrupt } from './lib/children.js';
import { cpuShares, cpuSpeed, cpuSpeedLine, cpuTicks } from './lib/cpuspeed.js';
import type { BenchSection, Scenario } from './types.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

const scenarios: Record<string, () => Promise<Scenario>> = {
  ingest: async () => (await import('./ingest.js')).run,
  sink: async () => (await import('./sink.js')).run,
  query: async () => (await import('./query.js')).run,
  e2e: async () => (await import('./e2e.js')).run,
  alerts: async () => (await import('./alerts.js')).run,
  formats: async () => (await import('./formats.js')).run,
  import: async () => (await import('./import.js')).run,
  graphql: async () => (await import('./graphql.js')).run,
  erasure: async () => (await import('./erasure.js')).run,
  sustained: async () => (await import('./sustained.js')).run,
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

interface Run {
  started: string;
  quick: boolean;
  machine: Record<string, unknown>;
  command: string;
}

/** What latest.json keeps per scenario: the newest run of it, so one scenario's run never hides another's. */
interface LatestSection extends Run {
  finished: string;
  results: Record<string, unknown>;
  markdown: string;
}

const OUT = path.join(root, 'bench', 'results');

function heading(run: Run): string {
  return `# trackhouse benchmark, ${run.started}${run.quick ? ' (quick run: figures not meaningful)' : ''}`;
}

/** This run's files, rewritten after every scenario so a failure late in a long run keeps the rest. */
function writeRun(run: Run, stamp: string, sections: readonly BenchSection[]): void {
  const json = { ...run, finished: new Date().toISOString(), sections: Object.fromEntries(sections.map((s) => [s.name, s.results])) };
  const md = [heading(run), '', '```', JSON.stringify(run.machine, null, 2), '```', '', `Command: \`${run.command}\``, '', ...sections.map((s) => s.markdown)].join('\n');
  writeFileSync(path.join(OUT, `${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(OUT, `${stamp}.md`), `${md}\n`);
}

/** latest.json / latest.md: the newest figures of every scenario, each with the run that made them. */
function writeLatest(run: Run, section: BenchSection): void {
  const file = path.join(OUT, 'latest.json');
  let latest: { sections: Record<string, LatestSection> } = { sections: {} };
  try {
    const old = JSON.parse(readFileSync(file, 'utf8')) as { sections?: Record<string, LatestSection> };
    // Older files kept bare results per section; only sections in this shape are carried over.
    for (const [name, s] of Object.entries(old.sections ?? {})) if (typeof s?.markdown === 'string') latest.sections[name] = s;
  } catch {
    latest = { sections: {} };
  }
  latest.sections[section.name] = { ...run, finished: new Date().toISOString(), results: section.results, markdown: section.markdown };
  const order = Object.keys(scenarios).filter((n) => latest.sections[n]);
  const md = [
    '# trackhouse benchmark: latest figures per scenario',
    '',
    'Each section comes from the newest run of its scenario; the line under its heading says which run and command.',
    '',
    ...order.flatMap((n) => {
      const s = latest.sections[n]!;
      return [`<!-- ${n} -->`, `Run ${s.started} (\`${s.command}\`${s.quick ? ', quick: figures not meaningful' : ''}), ${s.machine.cpus} CPUs (${s.machine.cpu_model}), load average at start ${JSON.stringify(s.machine.load_avg_at_start)}.`, '', s.markdown, ''];
    }),
  ].join('\n');
  writeFileSync(file, `${JSON.stringify(latest, null, 2)}\n`);
  writeFileSync(path.join(OUT, 'latest.md'), md);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const names = wanted.length > 0 ? wanted : Object.keys(scenarios);
  for (const n of names) if (!scenarios[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(scenarios).join(', ')}`);
  const quick = process.env.BENCH_QUICK === '1';
  const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-bench-'));
  let broker: LocalBroker | undefined;
  const cleanUp = async () => {
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  // Interrupted: the scenario's processes stop first (./lib/children.ts), then this.
  atInterrupt(cleanUp);
  const started = new Date();
  const run: Run = { started: started.toISOString(), quick, machine: machine(), command: `npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}` };
  const stamp = run.started.replace(/[:.]/g, '-');
  mkdirSync(OUT, { recursive: true });
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
      const brokerPid = external ? (process.env.BENCH_BROKER_PID ? Number(process.env.BENCH_BROKER_PID) : undefined) : broker!.pid;
      log(`scenario ${name}`);
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      const scenario = await scenarios[name]!();
      try {
        const before = cpuSpeed();
        const ticks = cpuTicks();
        const measured = await scenario({ brokers, brokerPid, workDir: dir, root, quick, log: (m) => log(`${name}: ${m}`) });
        const shares = cpuShares(ticks, cpuTicks());
        const after = cpuSpeed();
        const section: BenchSection = {
          ...measured,
          results: { ...measured.results, cpu_probe: { before, after, ...shares } },
          markdown: `${measured.markdown}\n\n${cpuSpeedLine(before, after, shares)}`,
        };
        sections.push(section);
        writeRun(run, stamp, sections);
        if (!quick) {
          writeLatest(run, section);
          // docs/capacity.md follows the newest figures (npm run capacity does the same by hand).
          (await import('./capacity.js')).updateCapacityDoc();
        }
        log(`wrote bench/results/${stamp}.json and .md`);
      } finally {
        await broker?.stop();
        broker = undefined;
        rmSync(path.join(work, `kafka-${name}`), { recursive: true, force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await cleanUp();
  }
}

await main();
