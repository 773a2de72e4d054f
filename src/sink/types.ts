// Messages between the sink's main thread and its decode workers (piscina). Everything bulky
// travels as typed arrays whose buffers are transferred, never copied or cloned as objects.

export interface DecodeTask {
  topic: string;
  partition: number;
  /** Record values; record i is values[starts[i], ends[i]) (bytes between records are not ours). */
  values: Uint8Array;
  starts: Uint32Array;
  ends: Uint32Array;
  /** Kafka offset of record i. */
  offsets: Float64Array;
}

export interface DecodeFailure {
  /** Index of the record in the task. */
  index: number;
  /** Stable code (RECORD_UNDECODABLE, EVENT_OUT_OF_RANGE). */
  code: string;
  message: string;
}

export interface DecodeResult {
  rows: number;
  /** TabSeparated rows of `events` in record order (rows of failed records left out). */
  payload: Uint8Array;
  /** Byte end of row r in payload. */
  rowEnds: Uint32Array;
  /** Index in the task of the record row r came from. */
  rowRecord: Uint32Array;
  /** Identity hash of row r, (user_key, event_id): high half at 2r, low half at 2r + 1. */
  ids: Uint32Array;
  /** received_at of row r, Unix ms. */
  receivedAt: Float64Array;
  failures: DecodeFailure[];
  /** The worker's V8 heap after the task, for the worker memory gauge. */
  heapUsed: number;
  threadId: number;
}
