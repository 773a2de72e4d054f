// The ledger of one case: every event it sends has a unique messageId `<run>-<seq>`, one of a few
// user ids, and an event name, category and group id of this run alone, so the query API's
// per-user reads and the daily rollups can be checked against what ingest acknowledged.
import { randomBytes } from 'node:crypto';

export const USERS_PER_RUN = 16;

const UNSENT = 0;
const SENT = 1;
const ACKED = 2;

export class Ledger {
  readonly runId: string;
  readonly users: readonly string[];
  /** The track event name, category and group id of this run: its rollup keys. */
  readonly eventName: string;
  readonly category: string;
  readonly group: string;
  readonly startedAt = Date.now();
  private state = new Uint8Array(1 << 16);
  private next = 0;

  constructor(label: string) {
    this.runId = `chaos-${label}-${randomBytes(4).toString('hex')}`;
    this.users = Array.from({ length: USERS_PER_RUN }, (_, i) => `${this.runId}-u${String(i).padStart(2, '0')}`);
    this.eventName = `${this.runId} event`;
    this.category = `${this.runId}-category`;
    this.group = `${this.runId}-group`;
  }

  /** A new event id (its sequence number) in the ledger. */
  take(): number {
    const seq = this.next++;
    if (seq >= this.state.length) {
      const grown = new Uint8Array(this.state.length * 2);
      grown.set(this.state);
      this.state = grown;
    }
    return seq;
  }

  id(seq: number): string {
    return `${this.runId}-${seq}`;
  }

  /** The sequence number of one of this run's ids, or -1 for an id not of this run. */
  seqOf(id: string): number {
    if (!id.startsWith(`${this.runId}-`)) return -1;
    const tail = id.slice(this.runId.length + 1);
    if (!/^\d+$/.test(tail)) return -1;
    const seq = Number(tail);
    return seq < this.next ? seq : -1;
  }

  userOf(seq: number): string {
    return this.users[seq % USERS_PER_RUN]!;
  }

  markSent(seq: number): void {
    if (this.state[seq] === UNSENT) this.state[seq] = SENT;
  }

  markAcked(seq: number): void {
    this.state[seq] = ACKED;
  }

  isAcked(seq: number): boolean {
    return this.state[seq] === ACKED;
  }

  get size(): number {
    return this.next;
  }

  counts(): { sent: number; acked: number } {
    let sent = 0;
    let acked = 0;
    for (let i = 0; i < this.next; i++) {
      if (this.state[i] !== UNSENT) sent++;
      if (this.state[i] === ACKED) acked++;
    }
    return { sent, acked };
  }

  /** One event as a Segment track call; the same seq always gives the same JSON (a retry resends it). */
  eventJson(seq: number, timestamp: string): string {
    return JSON.stringify({
      type: 'track',
      messageId: this.id(seq),
      userId: this.userOf(seq),
      event: this.eventName,
      timestamp,
      properties: { category: this.category, seq },
      context: { groupId: this.group, library: { name: 'trackhouse-chaos' } },
    });
  }
}
