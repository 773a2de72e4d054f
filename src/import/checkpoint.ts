// The import's checkpoint: per input (by content identity), how many items Kafka has acknowledged
// without a gap, and whether the input is finished. Written (tmp file + rename, so a crash
// leaves the old or the new file, never half of one) only after Kafka acked every record before
// that point; a resumed import starts there. Records sent after it but not yet acked when the
// process died are sent again with the same event ids, and the sink keeps each (user, event id)
// once (docs/architecture/sink.md, resend window).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ImportArgumentError } from './errors.js';
import { makePrivateDir } from '../common/privatedir.js';

export interface InputState {
  /** The name it had when last imported (for people reading the file). */
  name: string;
  /** Items acknowledged by Kafka, without a gap, from the start. */
  done: number;
  complete: boolean;
}

export interface CheckpointData {
  version: 1;
  inputs: Record<string, InputState>;
}

export class Checkpoint {
  private data: CheckpointData;
  private dirty = false;

  constructor(
    readonly file: string,
    fresh: boolean,
  ) {
    this.data = !fresh && existsSync(file) ? read(file) : { version: 1, inputs: {} };
    if (fresh) this.dirty = true;
  }

  get(id: string): InputState | undefined {
    return this.data.inputs[id];
  }

  advance(id: string, name: string, done: number, complete: boolean): void {
    const s = (this.data.inputs[id] ??= { name, done: 0, complete: false });
    s.name = name;
    if (done > s.done) s.done = done;
    if (complete) s.complete = true;
    this.dirty = true;
  }

  save(): void {
    if (!this.dirty) return;
    makePrivateDir(path.dirname(this.file));
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.data, null, 1)}\n`);
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}

function read(file: string): CheckpointData {
  const v = JSON.parse(readFileSync(file, 'utf8')) as CheckpointData;
  if (v === null || typeof v !== 'object' || v.version !== 1 || typeof v.inputs !== 'object') {
    throw new ImportArgumentError(`${file} is not an import checkpoint (remove it, or pass --restart)`);
  }
  return v;
}
