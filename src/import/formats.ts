// What the import reads (formats) and what its reading thread hands over (chunks): a module of
// its own so the main thread loads none of the encoding code (./encoder.ts runs on the thread).
import { ImportArgumentError } from './errors.js';

export const VENDOR_FORMATS = ['posthog', 'amplitude', 'mixpanel', 'mixpanel-engage', 'mixpanel-groups', 'snowplow'] as const;
export type VendorFormat = (typeof VENDOR_FORMATS)[number];
export const IMPORT_FORMATS = ['auto', 'segment', ...VENDOR_FORMATS, 'csv'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
export type ItemFormat = Exclude<ImportFormat, 'auto'>;

export type Refusal = 'user_suppressed' | 'user_erased';

/** One chunk of whole items, as it crosses from the worker to the main thread. */
export interface WireChunk {
  /** Index of the input (ImportOptions.inputs). */
  input: number;
  /** Items through this position are in this chunk or before it. */
  end: number;
  /** The input's last chunk, read to its end. */
  complete: boolean;
  /** Event values (Avro, Confluent framing) back to back; transferred. */
  data: ArrayBuffer;
  /** ends[i]: where event i's value ends in data (it starts where event i-1's ends). */
  ends: Int32Array;
  /** The keys back to back (one string: one copy across threads, not one per key)... */
  keys: string;
  /** ...and where each ends in it. */
  keyEnds: Int32Array;
  /** Records for the rejected topic (rare): value and headers. */
  rejects: { value: Uint8Array; headers: Record<string, string> }[];
  /** Rejected events by reason in this chunk, with one example message per code. */
  rejectedBy: Record<string, { count: number; example: string }>;
  /** Memory the chunk's records hold, as the producer counts it. */
  bytes: number;
  /** Raw bytes of the input read so far (progress). */
  raw: number;
}


/**
 * Checks `--group-key` on the command line: a name (the group key's, e.g. company), with
 * `--format mixpanel-groups`, the one format whose exported profiles need it (./exports.ts).
 */
export function checkMixpanelGroupKey(key: string, format: string): void {
  if (format !== 'mixpanel-groups') throw new ImportArgumentError(`--group-key applies to --format mixpanel-groups only (not ${format})`);
  if (key.trim() === '') throw new ImportArgumentError('--group-key: expected the group key\'s name, e.g. company');
}
