// The young generation of the query API's HTTP thread (docs/architecture/query.md, "Young
// generation"). With V8's default semi-space (16 MB at most) that thread scavenged many times a
// second under load, in pauses of several ms; allowing 64 MB cut the mean pause to a third or less.
// V8 sizes an isolate's heap when it is created, so this is a node option given where the process
// starts: `npm start` (package.json), k8s/base/query.yaml, the query bench; heap.test.ts holds
// those places to this list. V8 applies it process-wide: every worker thread of the process gets it.
import v8 from 'node:v8';

/** Node options of a process that serves the query API (`trackhouse query`, `trackhouse start`). */
export const QUERY_NODE_OPTIONS = ['--max-semi-space-size=64'] as const;

/** What V8 gave the calling thread, in MB: its new space now, and its heap limit (the old generation's plus three semi-spaces). */
export function heapSizes(): { newSpaceMb: number; heapLimitMb: number } {
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return { newSpaceMb: space ? Math.round(space.space_size / 1048576) : 0, heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 1048576) };
}
