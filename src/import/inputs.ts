// Where `trackhouse import` reads: files, the files of a folder (recursively, in name order, hidden
// ones skipped), or stdin (`-`). Each is a byte stream, gunzipped when its first bytes are gzip's
// magic (whatever its name), with a count of the raw bytes read for the progress bar.
import { createReadStream, readdirSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ImportArgumentError, ImportInputError } from './errors.js';
import { fileIdentity, IDENTITY_PREFIX_BYTES } from './ids.js';

export interface Input {
  /** As given on the command line (absolute for a folder's files); `-` for stdin. */
  name: string;
  /** Bytes on disk; null for stdin. */
  size: number | null;
  /** Content identity (see ids.ts); stdin's is `stdin`. */
  id: string;
}

/** Expands the arguments into inputs, checking each exists before anything is sent. */
export function listInputs(args: readonly string[]): Input[] {
  if (args.length === 0) throw new ImportArgumentError('give at least one file, folder, or - for stdin');
  const out: Input[] = [];
  const add = (file: string) => {
    const st = statSync(file);
    out.push({ name: file, size: st.size, id: identityOf(file, st.size) });
  };
  for (const a of args) {
    if (a === '-') {
      if (args.filter((x) => x === '-').length > 1) throw new ImportArgumentError('stdin (-) can be given once');
      out.push({ name: '-', size: null, id: 'stdin' });
      continue;
    }
    let st;
    try {
      st = statSync(a);
    } catch (err) {
      throw new ImportArgumentError(`${a}: no such file or folder (${(err as Error).message})`);
    }
    if (st.isDirectory()) for (const f of folderFiles(a)) add(f);
    else add(a);
  }
  return out;
}

function folderFiles(dir: string): string[] {
  const files: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...folderFiles(full));
    else if (e.isFile()) files.push(full);
  }
  return files;
}

function identityOf(file: string, size: number): string {
  const head = Buffer.alloc(Math.min(size, IDENTITY_PREFIX_BYTES));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return fileIdentity(size, head);
}

export interface Opened {
  /** Decompressed bytes. */
  stream: AsyncIterable<Buffer>;
  gzip: boolean;
  /** Raw bytes read so far. */
  readonly rawBytes: () => number;
}

const READ_CHUNK = 256 * 1024;

/** Opens an input; gzip is told by its magic bytes (1f 8b), not by its name. */
export async function openInput(input: Input, stdin: Readable = process.stdin): Promise<Opened> {
  const raw: Readable = input.name === '-' ? stdin : createReadStream(input.name, { highWaterMark: READ_CHUNK });
  let rawBytes = 0;
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first: Buffer | null = null;
  // Peek up to 2 bytes (stdin may hand them over one at a time).
  const peeked: Buffer[] = [];
  let ended = false;
  while (Buffer.concat(peeked).length < 2) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    rawBytes += b.length;
    peeked.push(b);
  }
  first = Buffer.concat(peeked);
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  async function* rawChunks(): AsyncGenerator<Buffer> {
    if (first!.length > 0) yield first!;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
      rawBytes += b.length;
      yield b;
    }
  }
  if (!gzip) return { stream: rawChunks(), gzip, rawBytes: () => rawBytes };
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  const source = rawChunks();
  void (async () => {
    try {
      for await (const b of source) if (!gunzip.write(b)) await new Promise((r) => gunzip.once('drain', r));
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  async function* unzipped(): AsyncGenerator<Buffer> {
    try {
      for await (const b of gunzip) yield b as Buffer;
    } catch (err) {
      throw new ImportInputError(`${input.name}: the gzip data is corrupt: ${(err as Error).message}`, err);
    }
  }
  return { stream: unzipped(), gzip, rawBytes: () => rawBytes };
}
