// The threads of a process as /proc shows them: for tests of the thread priorities
// (src/common/threads.ts) in this process and in a child.
import { readdirSync, readFileSync } from 'node:fs';

/** Each thread of process `pid` (default: this one): its id, name (comm) and nice value. */
export function threadsOf(pid: number | 'self' = 'self'): { tid: number; name: string; nice: number }[] {
  const out: { tid: number; name: string; nice: number }[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      // Fields after "(comm)": state ppid ... priority nice (the 17th).
      out.push({ tid: Number(tid), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}
