// How fast this machine's CPU runs right now, as a probe recorded before and after each scenario:
// the machine is shared, and a run's absolute figures (events/s, req/s, latency) move with what
// else runs. The probe is a plain add loop inside a function (a loop over script-level `let`s, as
// `node -e 'let s=0;for(...)s+=i'` writes it, measures V8 boxing a number per iteration instead:
// 7-15x slower and far noisier). Wall time shows waiting for a core too; CPU time shows the cycles.
import { execFileSync } from 'node:child_process';

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
export function cpuSpeedLine(before: CpuSpeed | null, after: CpuSpeed | null): string {
  const fmt = (s: CpuSpeed | null) => (s === null ? 'not measured' : `${s.wall_ms} ms wall / ${s.cpu_ms} ms CPU`);
  return `CPU probe (a 1e8-iteration add loop in a fresh Node process, best of 3): before ${fmt(before)}, after ${fmt(after)}. Compare it across runs before comparing their absolute figures; ratios within one run hold either way.`;
}
