// V8's heap settings: the node options of a process serving the query API, and the V8 flags every
// process sets for itself (V8_FLAGS below).
//
// The heap of the query API's HTTP thread (docs/architecture/query.md):
// - its young generation ("Young generation"): with V8's default semi-space (16 MB at most) that
//   thread scavenged many times a second under load, in pauses of several ms; allowing 64 MB cut
//   the mean pause to a third or less;
// - its old generation's first limit ("The old generation's first limit"): V8 starts marking the
//   whole heap once the old generation's room left is no more than the new space's capacity. With
//   64 MB semi-spaces, V8's 64 MB first limit and a ~25 MB live set that held all the time under
//   writes: a mark-compact every 1.5-3 s. At 160 MB, none until the old generation itself grows.
// V8 sizes an isolate's heap when it is created, so these are node options given where the process
// starts: `npm start` (package.json), k8s/base/query.yaml, the query and all-in-one benches;
// heap.test.ts holds those places to this list. V8 applies them process-wide: every worker thread
// of the process gets them.
import v8 from 'node:v8';

/** Node options of a process that serves the query API (`trackhouse query`, `trackhouse start`). */
export const QUERY_NODE_OPTIONS = ['--max-semi-space-size=64', '--initial-old-space-size=160'] as const;

/**
 * V8 flags every trackhouse process sets for itself at start (src/cli/main.ts; unlike the
 * semi-space, they act from the next collection on): allocation-site pretenuring off.
 *
 * Why: V8 moves an allocation site (an object or array literal) to the old generation for good once
 * most of its objects survive a scavenge at full new space, and takes that back only after a
 * mark-compact that frees most of the old generation. A start-up or catch-up burst was enough: the
 * query API's per-page literals then went straight to the old generation, and the young objects
 * they point at were promoted with them (an old object, dead or not, keeps its young referents
 * through a scavenge). With 16 MB semi-spaces and no writes: ~1 MB promoted per scavenge instead of
 * ~40 KB, scavenges of 4-7 ms instead of ~1, a mark-compact every few seconds. With the query's
 * 64 MB semi-spaces the two measured alike; the sink drained faster in 6 trials of 7 and the ingest
 * spent less CPU per event in 4 pairs of 6 (docs/architecture/query.md, "Pretenuring").
 */
export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

/** Sets V8_FLAGS (process-wide: every thread of the process). */
export function setV8Flags(): void {
  for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);
}

/** What V8 gave the calling thread, in MB: its new space now, and its heap limit (the old generation's plus three semi-spaces). */
export function heapSizes(): { newSpaceMb: number; heapLimitMb: number } {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return { newSpaceMb: space ? Math.round(space.space_size / 1048576) : 0, heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) };
}
