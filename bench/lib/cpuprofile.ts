// Summarises a V8 .cpuprofile (node --cpu-prof): self time by area (package or source folder)
// and by function, and inclusive time of the functions that cost most. Text only, for a quick
// look at where an ingest spends its CPU; open the file in Chrome DevTools for the whole picture.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time, ms, excluding (idle). */
  busy_ms: number;
  idle_ms: number;
  areas: { area: string; ms: number; share: number }[];
  self: { fn: string; ms: number; share: number }[];
  inclusive: { fn: string; ms: number; share: number }[];
}

/** Where a frame's code lives: an npm package, a folder of ours, Node's own code, or V8. */
export function area(f: CallFrame): string {
  const u = f.url;
  if (u === '') return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) return `node:${u.slice(5).split('/')[0]}`;
  const m = /\/(?:dist|src)\/([^/]+)\/([^/]+?)\.(?:js|ts)$/.exec(u);
  return m ? `${m[1]}/${m[2]}` : u;
}

function fnKey(f: CallFrame): string {
  return `${f.functionName || '(anonymous)'} ${area(f)}:${f.lineNumber + 1}`;
}

export function summarise(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute it to that sample.
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  let idle = 0;
  let busy = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const a = area(n.callFrame);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    const k = fnKey(n.callFrame);
    fns.set(k, (fns.get(k) ?? 0) + ms);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = fnKey(byId.get(cur)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + ms);
    }
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ k, ms: Math.round(ms), share: Math.round((ms / busy) * 1000) / 10 }));
  return {
    busy_ms: Math.round(busy),
    idle_ms: Math.round(idle),
    areas: rank(areas).map(({ k, ms, share }) => ({ area: k, ms, share })),
    self: rank(fns).map(({ k, ms, share }) => ({ fn: k, ms, share })),
    inclusive: rank(new Map([...incl].filter(([k]) => !k.startsWith('(root)')))).map(({ k, ms, share }) => ({ fn: k, ms, share })),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const lines = [`busy ${s.busy_ms} ms, idle ${s.idle_ms} ms`, '', 'self time by area:'];
  for (const a of s.areas) lines.push(`  ${a.share.toFixed(1).padStart(5)} %  ${String(a.ms).padStart(6)} ms  ${a.area}`);
  lines.push('', 'self time by function:');
  for (const f of s.self) lines.push(`  ${f.share.toFixed(1).padStart(5)} %  ${String(f.ms).padStart(6)} ms  ${f.fn}`);
  lines.push('', 'inclusive time by function:');
  for (const f of s.inclusive) lines.push(`  ${f.share.toFixed(1).padStart(5)} %  ${String(f.ms).padStart(6)} ms  ${f.fn}`);
  return lines.join('\n');
}
