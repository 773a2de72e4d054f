// Waiting for ClickHouse's background merges, for benches that measure after inserting (the query
// bench's seed, so the server measured next does not merge under load; the sink-schema bench,
// whose CPU figure includes the merges its inserts cause).
import type { ClickHouseClient } from '../../src/warehouse/index.js';

/**
 * Resolves once `system.merges` (of `table`, or of every table) was empty at `quietPolls` polls in
 * a row, `intervalMs` apart, or after `maxPolls` polls.
 */
export async function mergesSettled(client: ClickHouseClient, opts: { table?: string; quietPolls: number; maxPolls: number; intervalMs: number }): Promise<void> {
  const where = opts.table === undefined ? '' : ' WHERE table = {table:String}';
  const params = opts.table === undefined ? {} : { query_params: { table: opts.table } };
  for (let i = 0, quiet = 0; i < opts.maxPolls && quiet < opts.quietPolls; i++) {
    const rs = await client.query({ query: `SELECT count() AS n FROM system.merges${where}`, ...params, format: 'JSONEachRow' });
    quiet = Number((await rs.json<{ n: number | string }>())[0]!.n) === 0 ? quiet + 1 : 0;
    if (quiet < opts.quietPolls) await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}
