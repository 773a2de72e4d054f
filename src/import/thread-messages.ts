// Messages between the importer (main thread) and its reading thread (./worker.ts).
import type { CsvMapping } from './csvmap.js';
import type { ItemFormat, Refusal, WireChunk } from './formats.js';
import type { Input } from './inputs.js';

export interface ReaderJob {
  /** Index into ReaderInit.inputs. */
  input: number;
  /** Items an earlier run loaded (the checkpoint): skipped without parsing. */
  skip: number;
  format: ItemFormat;
}

export interface ReaderInit {
  inputs: Input[];
  jobs: ReaderJob[];
  rejectedTopic: string;
  maxEventBytes: number;
  source: string;
  csv: CsvMapping;
  csvDelimiter: string;
  mixpanelTimezone: string | null;
  mixpanelGroupKey: string | null;
  chunkBytes: number;
  chunkRecords: number;
  /** Chunks the thread may post before the main thread has taken any. */
  credits: number;
}

export type ToReader =
  /** Kafka is ready: start encoding; the users whose events are refused (the erasure list). */
  | { type: 'go'; refused: [string, Refusal][] }
  /** The main thread took a chunk: one more may be posted. */
  | { type: 'credit' }
  /** Stop reading; post the current input's last chunk (not complete), then done. */
  | { type: 'stop' }
  /** The erasure list changed for a user. */
  | { type: 'erasure'; userKey: string; refused: Refusal | null };

export type FromReader =
  | { type: 'chunk'; chunk: WireChunk }
  | { type: 'done' }
  | { type: 'error'; code: string | undefined; message: string; stack: string | undefined };
