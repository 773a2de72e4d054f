// The refused-requests list the dashboard shows (refusals.ts): codes from the ingest's two
// counters merged, busiest first, each with its status and what to do. Checked here in Node.
import { describe, expect, it } from 'vitest';
import { refusals } from './refusals.js';

describe('refusals (the ingest\'s 401 and body counters -> what the page lists)', () => {
  it('lists each code once, busiest first, with the status the sender got and what to do', () => {
    const rows = refusals({ unknown_write_key: 3, missing_write_key: 2 }, { malformed_json: 1, body_too_large: 0 });
    expect(rows.map((r) => [r.code, r.count, r.status])).toEqual([
      ['unknown_write_key', 3, 401],
      ['missing_write_key', 2, 401],
      ['malformed_json', 1, 400],
    ]);
    expect(rows[0]!.meaning).toContain('the key the app sends is not in TRACKHOUSE_WRITE_KEYS');
  });

  it('says where to look for a code it does not know, and takes a missing counter as none', () => {
    expect(refusals(null, null)).toEqual([]);
    const [row] = refusals(null, { constructor: 4 });
    expect(row).toEqual({ code: 'constructor', count: 4, status: null, meaning: expect.stringContaining('docs/architecture/ingest.md') });
  });
});
