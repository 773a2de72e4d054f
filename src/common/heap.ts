// The young generation of the query API's HTTP thread (docs/architecture/query.md, "Young
// generation"). With V8's default semi-space (16 MB at most) that thread scavenged many times a
// second under load, in pauses of several ms; allowing 64 MB cut the mean pause to a third or less.
// V8 sizes an isolate's heap when it is created, so this is a node option given where the process
// starts: `npm start` (package.json), k8s/base/query.yaml, the query bench; heap.test.ts holds
// those places to this list. V8 applies it process-wide: every worker thread of the process gets it.
import v8 from 'node:v8';

/** Node options of a process that serves the query API (`trackhouse query`, `trackhouse start`). */
export const QUERY_NODE_OPTIONS = ['--max-semi-space-size=64'] as const;

/**
 * V8 flags a process serving the query API sets for itself, first thing in its command (unlike the
 * semi-space, they act from the next collection on): allocation-site pretenuring off.
 *
 * Why: V8 moves an allocation site (an object or array literal) to the old generation for good once
 * most of its objects survive a scavenge at full new space, and takes that back only after a
 * mark-compact that frees most of the old generation. A start-up or catch-up burst that holds such
 * objects was enough: in the HTTP thread the per-page literals (lmdb-js's range iterator and its row
 * results among them) then went straight to the old generation, and the young objects they point at
 * were promoted with them (an old object, dead or not, keeps its young referents through a
 * scavenge). Measured with no writes: ~1 MB promoted per scavenge instead of ~40 KB, scavenges of
 * 4-6 ms instead of ~1, and a mark-compact every few seconds (docs/architecture/query.md, "Pretenuring").
 */
export const QUERY_V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

/** Sets QUERY_V8_FLAGS (process-wide: every thread of the process). */
export function setQueryV8Flags(): void {
  for (const flag of QUERY_V8_FLAGS) v8.setFlagsFromString(flag);
}

/** What V8 gave the calling thread, in MB: its new space now, and its heap limit (the old generation's plus three semi-spaces). */
export function heapSizes(): { newSpaceMb: number; heapLimitMb: number } {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return { newSpaceMb: space ? Math.round(space.space_size / 1048576) : 0, heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) };
}
