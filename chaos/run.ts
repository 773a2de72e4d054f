// npm run chaos [-- case ...]: the fault suite. For each case: a fresh deployment in a temp dir
// on loopback, a ledger of uniquely identified events sent under load, the fault, then proof
// through the query API and the rollups that every acknowledged event is stored exactly once.
// Prints per case: acked, stored, lost, doubled and recovery time (ingest answering 200 again
// after the fault ended); writes chaos/results/<time>.json and .md (and latest.md).
//
// Settings (environment): CHAOS_RATE requests/s (200), CHAOS_BATCH events per request (10),
// CHAOS_CONNECTIONS (16), CHAOS_FAULT_S (30), CHAOS_WARMUP_S (10), CHAOS_AFTER_S (10),
// CHAOS_RECOVERY_BOUND_S: how long a fault may leave ingest failing before the suite restarts
// what died itself, and reports that it had to (30).
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CASES, FAULT_MS, type Case, type CaseContext } from './cases.js';
import { Ledger } from './lib/ledger.js';
import { IngestLoad, Probe } from './lib/load.js';
import { duplicateKeyLines } from './lib/logkeys.js';
import { prepareJars, READ_KEY, ROOT, WRITE_KEY, Workspace, type Topology } from './lib/topology.js';
import { verify, waitCaughtUp, type Verdict } from './lib/verify.js';

const num = (name: string, dflt: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};
const RATE = num('CHAOS_RATE', 200);
const BATCH = num('CHAOS_BATCH', 10);
const CONNECTIONS = num('CHAOS_CONNECTIONS', 16);
const WARMUP_MS = num('CHAOS_WARMUP_S', 10) * 1000;
const AFTER_MS = num('CHAOS_AFTER_S', 10) * 1000;
const RECOVERY_BOUND_MS = num('CHAOS_RECOVERY_BOUND_S', 30) * 1000;
/** The issue's target: ingest answers 200 again within 10 s of the fault ending. */
const RECOVERY_TARGET_S = 10;
const CASE_DEADLINE_MS = 15 * 60_000;

interface CaseResult {
  case: string;
  what: string;
  topology: string;
  status: 'pass' | 'fail' | 'skip' | 'error';
  verdict?: Verdict;
  recovery_s?: number | null;
  self_recovered?: boolean;
  settled_s?: number | null;
  load?: Record<string, unknown>;
  figures?: Record<string, unknown>;
  failures: string[];
  notes: string[];
  duration_s: number;
}

let current: { topo: Topology | null; ws: Workspace } | null = null;

const log = (name: string) => (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${name}: ${msg}\n`);

async function runCase(c: Case): Promise<CaseResult> {
  const t0 = performance.now();
  const say = log(c.name);
  const result: CaseResult = { case: c.name, what: c.what, topology: '', status: 'fail', failures: [], notes: [], duration_s: 0 };
  const skip = c.skip?.();
  if (skip) {
    say(`skipped: ${skip}`);
    return { ...result, status: 'skip', notes: [skip] };
  }
  const ws = new Workspace(c.name);
  let topo: Topology | null = null;
  current = { topo, ws };
  try {
    topo = c.topology(ws);
    current.topo = topo;
    result.topology = topo.name;
    c.prepare?.(ws, topo);
    say(`starting the ${topo.name} deployment in ${ws.dir}`);
    await topo.start();

    const ledger = new Ledger(c.name);
    const load = new IngestLoad({ url: topo.ingestUrl, ledger, writeKey: WRITE_KEY, connections: CONNECTIONS, ratePerS: RATE, batch: BATCH });
    const probe = new Probe(topo.ingestUrl, ledger, WRITE_KEY);
    load.start();
    probe.start();
    say(`load: ${RATE} requests/s of ${BATCH} events over ${CONNECTIONS} connections; fault in ${WARMUP_MS / 1000} s`);
    await sleep(WARMUP_MS);

    const ctx: CaseContext = { ws, topo, load: load.counters, notes: result.notes, figures: {}, failures: result.failures, log: say };
    const faultEnd = await c.fault(ctx);
    // For a case whose fault includes a restart, the fault returns once the deployment is ready again.
    const faultReturned = performance.now();
    if (c.orchestrated) {
      const repaired = await topo.repair();
      result.notes.push(...repaired);
    }

    // Recovery: the probe's first 200 after the fault ended. Past the bound the suite repairs
    // (restarts what died) so the ledger can still be proven, and says it had to.
    let selfRecovered = true;
    while (probe.recoverySince(faultEnd) === null) {
      if (performance.now() - faultReturned > RECOVERY_BOUND_MS) {
        selfRecovered = false;
        say(`ingest did not answer 200 within ${RECOVERY_BOUND_MS / 1000} s after the fault: the suite restarts what died`);
        result.notes.push(`no 200 within ${RECOVERY_BOUND_MS / 1000} s of the fault ending; the suite then: ${(await topo.repair()).join('; ')}`);
        break;
      }
      await sleep(100);
    }
    while (probe.recoverySince(faultEnd) === null && performance.now() - faultReturned < RECOVERY_BOUND_MS + 240_000) await sleep(100);
    const recovery = probe.recoverySince(faultEnd);
    result.recovery_s = recovery === null ? null : Math.round(recovery * 10) / 10;
    result.self_recovered = selfRecovered;
    say(`recovery: ${recovery === null ? 'none' : `${recovery.toFixed(1)} s`}${selfRecovered ? '' : ' (after the suite restarted it)'}`);

    await sleep(AFTER_MS);
    await Promise.all([load.stop(), probe.stop()]);
    result.load = load.counters.summary();
    result.figures = ctx.figures;

    if (!(await topo.healthy())) {
      const repaired = await topo.repair();
      if (repaired.length > 0) result.notes.push(`not ready after the load stopped; the suite then: ${repaired.join('; ')}`);
    }
    const { acked } = ledger.counts();
    say(`load stopped: ${acked} events acknowledged; waiting for them to be visible`);
    const settled = await waitCaughtUp(topo.queryUrl, READ_KEY, ledger, acked, 180_000);
    result.settled_s = settled === null ? null : Math.round(settled * 10) / 10;
    let verdict = await verify(topo.queryUrl, READ_KEY, ledger);
    result.verdict = verdict;

    if (verdict.lost > 0) {
      // Gone, or only not yet inserted (a sink that stopped consuming)? Restart the sink, as an
      // operator would, and look again: both are failures, of different kinds.
      say(`${verdict.lost} acked events missing after ${settled === null ? 'the wait' : `${result.settled_s} s`}; restarting the sink to tell a stall from a loss`);
      result.notes.push(`${verdict.lost} acked events were not visible; the suite restarted the sink: ${(await topo.restartSink()).join('; ')}`);
      await waitCaughtUp(topo.queryUrl, READ_KEY, ledger, acked, 180_000);
      const again = await verify(topo.queryUrl, READ_KEY, ledger);
      if (again.lost < verdict.lost) {
        result.failures.push(
          `the sink stalled: ${verdict.lost} acked events were not stored ${result.settled_s === null ? '180 s' : ''} after the load stopped; after a restart of the sink ${verdict.lost - again.lost} of them appeared`,
        );
        ctx.figures.stalled_events = verdict.lost;
        verdict = again;
        result.verdict = again;
      }
    }
    if (verdict.lost > 0) result.failures.push(`${verdict.lost} acknowledged events lost (e.g. ${verdict.lostSample.join(', ')})`);
    if (verdict.doubled > 0) result.failures.push(`${verdict.doubled} events stored or counted more than once`);
    const r = verdict.rollups;
    if (r.event.events !== verdict.stored || r.category.events !== verdict.stored || r.group.events !== verdict.stored) {
      result.failures.push(`rollups (event ${r.event.events}, category ${r.category.events}, group ${r.group.events}) differ from the ${verdict.stored} events read`);
    }
    if (c.restartIsPartOfFault) {
      // The recovery includes a cold start of the deployment (broker, ClickHouse, migrations),
      // which no fault handling can shorten: the target applies from the moment it was ready.
      const coldStart = (faultReturned - faultEnd) / 1000;
      const afterReady = probe.recoverySince(faultReturned);
      ctx.figures.cold_start_s = Math.round(coldStart * 10) / 10;
      if (!selfRecovered || afterReady === null) result.failures.push(`ingest answered no 200 within ${RECOVERY_BOUND_MS / 1000} s of the restarted deployment being ready`);
      else if (afterReady > RECOVERY_TARGET_S) result.failures.push(`first 200 ${afterReady.toFixed(1)} s after the restarted deployment was ready, over the ${RECOVERY_TARGET_S} s target`);
    } else if (!selfRecovered) result.failures.push(`did not recover by itself within ${RECOVERY_BOUND_MS / 1000} s`);
    else if (recovery === null) result.failures.push('ingest never answered 200 again');
    else if (recovery > RECOVERY_TARGET_S) result.failures.push(`recovery ${recovery.toFixed(1)} s, over the ${RECOVERY_TARGET_S} s target`);
    if (verdict.acked === 0) result.failures.push('nothing was acknowledged: the load did not run');
    result.status = result.failures.length === 0 ? 'pass' : 'fail';
  } catch (err) {
    result.status = 'error';
    result.failures.push(`the case could not run to its end: ${(err as Error).message.split('\n').slice(0, 12).join('\n')}`);
  } finally {
    try {
      if (topo) result.notes.push(...(await topo.stop()).map((n) => `at the end: ${n}`));
    } catch (err) {
      result.notes.push(`stopping failed: ${(err as Error).message}`);
    }
    // Issue #14, point 4: every log line of every process with each key once.
    const dup = duplicateKeyLines(ws.dir);
    result.figures = { ...result.figures, log_lines: dup.lines, log_lines_with_duplicate_keys: dup.withDuplicates };
    if (dup.withDuplicates > 0) {
      result.failures.push(`${dup.withDuplicates} of ${dup.lines} log lines repeat a key, e.g. ${dup.sample}`);
      if (result.status === 'pass') result.status = 'fail';
    }
    if (result.status !== 'pass' && result.status !== 'skip') {
      const kept = keepLogs(ws, c.name);
      if (kept) result.notes.push(`logs kept in ${path.relative(ROOT, kept)}`);
    }
    if (process.env.CHAOS_KEEP) result.notes.push(`kept ${ws.dir}`);
    else ws.dispose();
    current = null;
  }
  result.duration_s = Math.round((performance.now() - t0) / 1000);
  return result;
}

/** Copies a failed case's process logs (and the brokers' server.log) to chaos/results/logs-<case>-<time>/. */
function keepLogs(ws: Workspace, name: string): string | null {
  const dest = path.join(ROOT, 'chaos', 'results', `logs-${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  try {
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(ws.dir)) if (f.endsWith('.log')) copyFileSync(path.join(ws.dir, f), path.join(dest, f));
    for (const broker of ['local', 'external']) {
      const server = ws.path('kafka', broker, 'logs', 'server.log');
      if (existsSync(server)) copyFileSync(server, path.join(dest, `kafka-${broker}-server.log`));
    }
    return dest;
  } catch {
    return null;
  }
}

function row(r: CaseResult): string[] {
  const v = r.verdict;
  const cold = r.figures?.cold_start_s;
  const rec =
    r.recovery_s === undefined
      ? ''
      : r.recovery_s === null
        ? 'never'
        : `${r.recovery_s}${cold !== undefined ? ` (cold start ${String(cold)})` : ''}${r.self_recovered === false ? ' (restarted by the suite)' : ''}`;
  return [
    r.case,
    r.status.toUpperCase(),
    v ? String(v.acked) : '',
    v ? String(v.stored) : '',
    v ? String(v.lost) : '',
    v ? String(v.doubled) : '',
    rec,
    r.settled_s === undefined ? '' : r.settled_s === null ? 'no' : String(r.settled_s),
    r.load ? `${r.load.retried_503}/${r.load.failed}` : '',
  ];
}

const HEAD = ['case', 'result', 'acked', 'stored', 'lost', 'doubled', 'recovery s', 'settled s', '503 retried / failed'];

function markdown(results: CaseResult[], meta: Record<string, unknown>): string {
  const lines = [
    `# trackhouse chaos run, ${meta.started}`,
    '',
    `Command: \`${meta.command}\`; load ${RATE} requests/s × ${BATCH} events, ${CONNECTIONS} connections; faults ${FAULT_MS / 1000} s; load average at start ${(meta.load_avg_at_start as number[]).map((x) => x.toFixed(2)).join(' ')}`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map(() => '---').join(' | ')} |`,
    ...results.map((r) => `| ${row(r).join(' | ')} |`),
    '',
    'acked: events answered 200; stored: distinct ledger events read back through the query API (acked ones plus any whose answer was lost to the fault); lost: acked and not stored; doubled: read more than once, or counted by a rollup beyond the events read; recovery: seconds from the end of the fault to ingest answering 200 again; settled: seconds after the load stopped until the rollups counted every acked event.',
    '',
  ];
  for (const r of results) {
    lines.push(`## ${r.case}: ${r.status.toUpperCase()}`, '', r.what, '');
    for (const f of r.failures) lines.push(`- FAILED: ${f}`);
    for (const n of r.notes) lines.push(`- ${n}`);
    if (r.figures && Object.keys(r.figures).length > 0) lines.push(`- figures: \`${JSON.stringify(r.figures)}\``);
    if (r.load) lines.push(`- load: \`${JSON.stringify(r.load)}\``);
    if (r.verdict) lines.push(`- rollups: \`${JSON.stringify(r.verdict.rollups)}\`; stored without a 200: ${r.verdict.storedUnacked}`);
    lines.push(`- took ${r.duration_s} s`, '');
  }
  return lines.join('\n');
}

function table(results: CaseResult[]): string {
  const rows = [HEAD, ...results.map(row)];
  const widths = HEAD.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  if (wanted.includes('--list') || wanted.includes('-l')) {
    for (const c of CASES) process.stdout.write(`${c.name.padEnd(24)} ${c.what}\n`);
    return;
  }
  const unknown = wanted.filter((w) => !CASES.some((c) => c.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`unknown case(s): ${unknown.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}\n`);
    process.exit(2);
  }
  const cases = wanted.length === 0 ? CASES : CASES.filter((c) => wanted.includes(c.name));
  const stopNow = () => {
    process.stderr.write('\ninterrupted: stopping the current case\'s processes\n');
    const c = current;
    void (async () => {
      try {
        await c?.topo?.stop();
      } finally {
        c?.ws.dispose();
        process.exit(130);
      }
    })();
  };
  process.once('SIGINT', stopNow);
  process.once('SIGTERM', stopNow);

  await prepareJars();
  const meta = {
    started: new Date().toISOString(),
    command: `npm run chaos${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`,
    host: os.hostname(),
    cpus: os.cpus().length,
    load_avg_at_start: os.loadavg(),
    settings: { rate: RATE, batch: BATCH, connections: CONNECTIONS, fault_s: FAULT_MS / 1000, warmup_s: WARMUP_MS / 1000, after_s: AFTER_MS / 1000, recovery_bound_s: RECOVERY_BOUND_MS / 1000 },
  };
  const results: CaseResult[] = [];
  for (const c of cases) {
    // Every step of a case is bounded; this is the backstop: clean up and give up on the run.
    const deadline = setTimeout(() => {
      process.stderr.write(`case ${c.name} ran over ${CASE_DEADLINE_MS / 60_000} min: stopping\n`);
      stopNow();
    }, CASE_DEADLINE_MS);
    const r = await runCase(c);
    clearTimeout(deadline);
    results.push(r);
    process.stdout.write(`${table([r])}\n${r.failures.map((f) => `  FAILED: ${f}\n`).join('')}${r.notes.map((n) => `  ${n}\n`).join('')}\n`);
  }
  const out = path.join(ROOT, 'chaos', 'results');
  mkdirSync(out, { recursive: true });
  const stamp = meta.started.replace(/[:.]/g, '-');
  const md = markdown(results, { ...meta, finished: new Date().toISOString() });
  writeFileSync(path.join(out, `${stamp}.json`), `${JSON.stringify({ ...meta, finished: new Date().toISOString(), results }, null, 2)}\n`);
  writeFileSync(path.join(out, `${stamp}.md`), `${md}\n`);
  writeFileSync(path.join(out, 'latest.md'), `${md}\n`);
  process.stdout.write(`\n${table(results)}\n\nwritten: chaos/results/${stamp}.md\n`);
  const failed = results.filter((r) => r.status === 'fail' || r.status === 'error').length;
  process.stdout.write(`${results.filter((r) => r.status === 'pass').length} passed, ${failed} failed, ${results.filter((r) => r.status === 'skip').length} skipped\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
