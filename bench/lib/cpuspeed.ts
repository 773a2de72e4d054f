// How fast this machine's CPU runs right now, as a probe recorded before and after each scenario,
// and how much of its CPU time the host took (steal, from /proc/stat) while the scenario ran: the
// machine is a VM on a shared host, and a run's absolute figures (events/s, req/s, latency, even CPU
// seconds per event) move with both (seen: steal 32 % of the CPU time over 10 s). The probe is a plain add loop inside a function (a loop over script-level `let`s, as
// `node -e 'let s=0;for(...)s+=i'` writes it, measures V8 boxing a number per iteration instead:
// 7-15x slower and far noisier). Wall time shows waiting for a core too; CPU time shows the cycles.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** 1e8 iterations, 3 times in a fresh Node process: the best wall and the best CPU milliseconds. */
const PROBE = `(()=>{let wall=Infinity,cpu=Infinity;for(let r=0;r<3;r++){let s=0;const c=process.cpuUsage(),t=process.hrtime.bigint();for(let i=0;i<1e8;i++)s+=i;const u=process.cpuUsage(c);if(s<0)throw 0;wall=Math.min(wall,Number(process.hrtime.bigint()-t)/1e6);cpu=Math.min(cpu,(u.user+u.system)/1e3)}process.stdout.write(JSON.stringify({wall_ms:Math.round(wall),cpu_ms:Math.round(cpu)}))})()`;

export interface CpuSpeed {
  /** Best wall time of the three loops, milliseconds. */
  wall_ms: number;
  /** Best CPU time of the three loops, milliseconds. */
  cpu_ms: number;
}

export function cpuSpeed(): CpuSpeed | null {
  try {
    const r = JSON.parse(execFileSync(process.execPath, ['-e', PROBE], { encoding: 'utf8', timeout: 60_000 })) as CpuSpeed;
    return Number.isFinite(r.wall_ms) && Number.isFinite(r.cpu_ms) ? r : null;
  } catch {
    return null;
  }
}

/** One line for a section's Markdown: the probe before and after the scenario. */
export function cpuSpeedLine(before: CpuSpeed | null, after: CpuSpeed | null, shares: ReturnType<typeof cpuShares>): string {
  const fmt = (s: CpuSpeed | null) => (s === null ? 'not measured' : `${s.wall_ms} ms wall / ${s.cpu_ms} ms CPU`);
  const during = shares === null ? '' : ` During the scenario the host took ${shares.steal_pct} % of the machine's CPU time (steal) and ${shares.busy_pct} % was busy here.`;
  return `CPU probe (a 1e8-iteration add loop in a fresh Node process, best of 3): before ${fmt(before)}, after ${fmt(after)}.${during} Compare these across runs before comparing their absolute figures; ratios within one run hold better.`;
}

/** The machine's CPU time counters (all CPUs, USER_HZ ticks), from the first line of /proc/stat. */
export interface CpuTicks {
  busy: number;
  idle: number;
  steal: number;
}

export function cpuTicks(): CpuTicks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
    return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
  } catch {
    return null;
  }
}

/** Between two readings: the share of all CPU time that was stolen by the host, and busy here. */
export function cpuShares(from: CpuTicks | null, to: CpuTicks | null): { steal_pct: number; busy_pct: number } | null {
  if (from === null || to === null) return null;
  const busy = to.busy - from.busy;
  const steal = to.steal - from.steal;
  const total = busy + steal + (to.idle - from.idle);
  if (total <= 0) return null;
  return { steal_pct: Math.round((steal / total) * 1000) / 10, busy_pct: Math.round((busy / total) * 1000) / 10 };
}
