// Proves, through the query API only (as a user would), that each acknowledged event of a ledger
// is stored exactly once: every user's events are read page by page, and the three daily rollups
// (by event name, category and group: each run has its own) must count the same events.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Ledger } from './ledger.js';

export interface RollupTotals {
  event: { events: number; users: number };
  category: { events: number; users: number };
  group: { events: number; users: number };
}

export interface Verdict {
  sent: number;
  acked: number;
  /** Distinct ledger events found in the per-user reads. */
  stored: number;
  /** Acknowledged but not found. */
  lost: number;
  /** Found more than once in the reads, plus any excess of a rollup over the distinct events read. */
  doubled: number;
  /** Found, without a 200 (the answer was lost to the fault; allowed). */
  storedUnacked: number;
  rollups: RollupTotals;
  /** Up to 5 lost ids, for a person to look up. */
  lostSample: string[];
}

async function getJson(url: string, readKey: string): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${readKey}` }, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      if (res.ok) return JSON.parse(text);
      if (attempt >= 20 || res.status < 500) throw new Error(`${url}: ${res.status} ${text.slice(0, 300)}`);
    } catch (err) {
      if (attempt >= 20) throw err;
    }
    await sleep(500);
  }
}

export async function rollupTotals(queryUrl: string, readKey: string, ledger: Ledger): Promise<RollupTotals> {
  const read = async (by: string, key: string) => {
    const body = (await getJson(`${queryUrl}/v1/rollups/daily?by=${by}`, readKey)) as { rows: { key: string; events: number; users: number }[] };
    const rows = body.rows.filter((r) => r.key === key);
    // A run spans a day boundary at most once; distinct users then count per day, so report the largest.
    return { events: rows.reduce((s, r) => s + Number(r.events), 0), users: rows.reduce((m, r) => Math.max(m, Number(r.users)), 0) };
  };
  const [event, category, group] = await Promise.all([read('event', ledger.eventName), read('category', ledger.category), read('group', ledger.group)]);
  return { event, category, group };
}

/**
 * Waits until the rollups count at least every acknowledged event and have stopped moving (the
 * sink caught up); returns the seconds it took, or null after `timeoutMs` (the verdict then says
 * what is missing).
 */
export async function waitCaughtUp(queryUrl: string, readKey: string, ledger: Ledger, acked: number, timeoutMs: number): Promise<number | null> {
  const t0 = performance.now();
  let last = -1;
  while (performance.now() - t0 < timeoutMs) {
    let n = -1;
    try {
      n = (await rollupTotals(queryUrl, readKey, ledger)).event.events;
    } catch {
      /* the query API may still be starting */
    }
    if (n >= acked && n === last) return (performance.now() - t0) / 1000;
    last = n;
    await sleep(1_000);
  }
  return null;
}

/** Every stored event of the ledger's users, as a count per sequence number. */
export async function readStored(queryUrl: string, readKey: string, ledger: Ledger): Promise<{ counts: Map<number, number>; foreign: number }> {
  const counts = new Map<number, number>();
  let foreign = 0;
  const from = new Date(ledger.startedAt - 3_600_000).toISOString();
  const to = new Date(Date.now() + 3_600_000).toISOString();
  await Promise.all(
    ledger.users.map(async (user) => {
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ from, to, limit: '1000' });
        if (cursor) q.set('cursor', cursor);
        const page = (await getJson(`${queryUrl}/v1/users/${encodeURIComponent(user)}/events?${q}`, readKey)) as {
          events: { event_id: string }[];
          next_cursor: string | null;
        };
        for (const e of page.events) {
          const seq = ledger.seqOf(e.event_id);
          if (seq < 0) foreign++;
          else counts.set(seq, (counts.get(seq) ?? 0) + 1);
        }
        cursor = page.next_cursor;
      } while (cursor);
    }),
  );
  return { counts, foreign };
}

export async function verify(queryUrl: string, readKey: string, ledger: Ledger): Promise<Verdict> {
  const { sent, acked } = ledger.counts();
  const { counts } = await readStored(queryUrl, readKey, ledger);
  const rollups = await rollupTotals(queryUrl, readKey, ledger);
  let lost = 0;
  let repeated = 0;
  let storedUnacked = 0;
  const lostSample: string[] = [];
  for (let seq = 0; seq < ledger.size; seq++) {
    const n = counts.get(seq) ?? 0;
    if (ledger.isAcked(seq) && n === 0) {
      lost++;
      if (lostSample.length < 5) lostSample.push(ledger.id(seq));
    }
    if (!ledger.isAcked(seq) && n > 0) storedUnacked++;
    if (n > 1) repeated += n - 1;
  }
  const stored = counts.size;
  const excess = Math.max(0, rollups.event.events - stored, rollups.category.events - stored, rollups.group.events - stored);
  return { sent, acked, stored, lost, doubled: repeated + excess, storedUnacked, rollups, lostSample };
}
