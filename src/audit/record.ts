// One record of the audit trail: who changed stored data, when, how, what it touched and what
// came of it. Written to the trackhouse.audit topic (append-only, kept forever) and copied into
// ClickHouse's audit_log for reading (GET /v1/audit). Users appear only as sha256 hashes.

export const AUDIT_ACTIONS = [
  'regulation.requested',
  'regulation.finished',
  'regulation.failed',
  'replay',
  'import',
  'migrate',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditRecord {
  /** Unix ms. */
  time: number;
  /** The admin key's name, or `process:<command>` for what a process does by itself. */
  actor: string;
  action: AuditAction;
  /** What the record is about: a regulation id, a replay run, an import run... */
  id: string;
  /** Users (as hashes), topics, partitions, offsets, time ranges, files. */
  scope: Record<string, unknown>;
  counts: Record<string, number>;
  outcome: 'accepted' | 'ok' | 'failed';
}
