// The packets of ClickHouse's native TCP protocol that a read-only server reads and writes, up to
// protocol revision SERVER_REVISION (the one clickhouse-go speaks; a newer client, such as
// clickhouse-client, steps down to it after the hello, as it would with an older server).
// Reading is from the start of what has arrived: a packet not yet whole throws NeedMore, and the
// caller reads again when more has come. Field by field as ClickHouse's TCPHandler and
// ClientInfo::read take them.
import { nativeCompressed } from './compressed.js';
import { displayText, UNESCAPES, unescapeParam, type EngineError } from './http-interface.js';
import { stringBytes, varuintBytes } from './native.js';

/** The revision this server speaks: server query time in progress packets (54460). */
export const SERVER_REVISION = 54460;
/** Settings sent as strings (older clients send them in a binary form this server does not read). */
export const MIN_CLIENT_REVISION = 54429;

const REVISION_WITH_CLIENT_INFO = 54032;
const REVISION_WITH_QUOTA_KEY_IN_CLIENT_INFO = 54060;
const REVISION_WITH_VERSION_PATCH = 54401;
const REVISION_WITH_INTERSERVER_SECRET = 54441;
const REVISION_WITH_OPENTELEMETRY = 54442;
const REVISION_WITH_DISTRIBUTED_DEPTH = 54448;
const REVISION_WITH_INITIAL_QUERY_START_TIME = 54449;
const REVISION_WITH_PARALLEL_REPLICAS = 54453;
export const REVISION_WITH_ADDENDUM = 54458;
const REVISION_WITH_PARAMETERS = 54459;

export const CLIENT = { Hello: 0, Query: 1, Data: 2, Cancel: 3, Ping: 4 } as const;
const SERVER = { Hello: 0, Data: 1, Exception: 2, Pong: 4, EndOfStream: 5 } as const;

/** Thrown when the packet is not whole yet. */
export class NeedMore extends Error {}
/** A packet this server cannot take: the connection is answered and closed. */
export class BadPacket extends Error {}

export class PacketReader {
  at = 0;
  constructor(readonly buf: Buffer) {}

  private need(bytes: number): void {
    if (this.at + bytes > this.buf.length) throw new NeedMore();
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  varuint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new BadPacket('a variable-length integer longer than 10 bytes');
  }

  skip(bytes: number): void {
    this.need(bytes);
    this.at += bytes;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }

  str(max = 1 << 20): string {
    const length = this.varuint();
    if (length > max) throw new BadPacket(`a string of ${length} bytes, over ${max}`);
    this.need(length);
    const s = this.buf.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }
}

export interface ClientHello {
  clientName: string;
  revision: number;
  database: string;
  user: string;
  password: string;
}

/** After the packet type. */
export function readHello(r: PacketReader): ClientHello {
  const clientName = r.str(1000);
  r.varuint(); // major
  r.varuint(); // minor
  const revision = r.varuint();
  const database = r.str(1000);
  const user = r.str(1000);
  const password = r.str(1000);
  return { clientName, revision, database, user, password };
}

export interface ClientQuery {
  queryId: string;
  settings: Record<string, string>;
  compression: boolean;
  sql: string;
  params: Record<string, string>;
}

/** A setting's or parameter's value as the protocol sends it: a custom one (flag 2) is a quoted field dump. */
function fieldText(value: string, custom: boolean): string {
  if (!custom || value.length < 2 || value[0] !== "'" || value[value.length - 1] !== "'") return value;
  return value.slice(1, -1).replace(/\\(.)/gs, (_m, c: string) => UNESCAPES[c] ?? c);
}

function readNamedValues(r: PacketReader): Record<string, string> {
  const out: Record<string, string> = {};
  for (;;) {
    const name = r.str(1000);
    if (name === '') return out;
    const flags = r.varuint();
    out[name] = fieldText(r.str(), (flags & 0x02) !== 0);
  }
}

/** After the packet type, at `revision` (the lower of the two sides'). */
export function readQuery(r: PacketReader, revision: number): ClientQuery {
  const queryId = r.str(1000);
  if (revision >= REVISION_WITH_CLIENT_INFO) readClientInfo(r, revision);
  const settings = readNamedValues(r);
  if (revision >= REVISION_WITH_INTERSERVER_SECRET) r.str(1000);
  r.varuint(); // stage: Complete is all this server answers
  const compression = r.varuint() !== 0;
  const sql = r.str(1 << 20);
  // A parameter's value is a quoted field dump of its escaped text form, as an HTTP `param_<name>`
  // carries it: unquoted here, then unescaped as that one is (clients escape it twice).
  const params = revision >= REVISION_WITH_PARAMETERS ? Object.fromEntries(Object.entries(readNamedValues(r)).map(([k, v]) => [k, unescapeParam(v)])) : {};
  return { queryId, settings, compression, sql, params };
}

function readClientInfo(r: PacketReader, revision: number): void {
  const kind = r.u8();
  if (kind === 0) return;
  r.str(1000); // initial_user
  r.str(1000); // initial_query_id
  r.str(1000); // initial_address
  if (revision >= REVISION_WITH_INITIAL_QUERY_START_TIME) r.skip(8);
  const iface = r.u8();
  if (iface === 1) {
    r.str(1000); // os_user
    r.str(1000); // client_hostname
    r.str(1000); // client_name
    r.varuint();
    r.varuint();
    r.varuint(); // its protocol revision
  } else if (iface === 2) {
    r.u8(); // http method
    r.str(1000); // user agent
    r.str(1000); // forwarded for
    r.str(1000); // referer
  } else {
    throw new BadPacket(`client info of interface ${iface}`);
  }
  if (revision >= REVISION_WITH_QUOTA_KEY_IN_CLIENT_INFO) r.str(1000);
  if (revision >= REVISION_WITH_DISTRIBUTED_DEPTH) r.varuint();
  if (iface === 1 && revision >= REVISION_WITH_VERSION_PATCH) r.varuint();
  if (revision >= REVISION_WITH_OPENTELEMETRY && r.u8() === 1) {
    r.skip(24);
    r.str(1000);
    r.u8();
  }
  if (revision >= REVISION_WITH_PARALLEL_REPLICAS) {
    r.varuint();
    r.varuint();
    r.varuint();
  }
}

/** The size of an empty block in the client's layout: BlockInfo (8 bytes) and two zero counts. */
const EMPTY_BLOCK_BYTES = 10;

/**
 * A Data packet after its type: an external table's block. True when it is the empty block that
 * ends them (the only kind this server takes: it serves no external tables). A compressed block
 * is judged by its uncompressed size, so no method (LZ4, ZSTD) needs decoding.
 */
export function readDataIsEmpty(r: PacketReader, compressed: boolean): boolean {
  r.str(1000); // table name
  if (compressed) {
    r.skip(16); // checksum
    r.u8(); // method
    const size = r.u32();
    const uncompressed = r.u32();
    if (size < 9) throw new BadPacket('a compressed block shorter than its header');
    r.skip(size - 9);
    return uncompressed === EMPTY_BLOCK_BYTES;
  }
  for (;;) {
    const field = r.varuint();
    if (field === 0) break;
    if (field === 1) r.u8();
    else if (field === 2) r.skip(4);
    else throw new BadPacket(`block info field ${field}`);
  }
  const columns = r.varuint();
  const rows = r.varuint();
  if (columns === 0 && rows === 0) return true;
  throw new BadPacket('external tables are not served here');
}

export function serverHello(version: string, revision: number, displayName: string): Buffer {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map((n) => Number(n) || 0);
  return Buffer.concat([
    varuintBytes(SERVER.Hello),
    stringBytes('ClickHouse'),
    varuintBytes(major),
    varuintBytes(minor),
    varuintBytes(revision),
    stringBytes('UTC'),
    stringBytes(displayName),
    varuintBytes(patch),
  ]);
}

export function pong(): Buffer {
  return varuintBytes(SERVER.Pong);
}

export function endOfStream(): Buffer {
  return varuintBytes(SERVER.EndOfStream);
}

/** A Data packet of one block (in the client's layout), compressed when the query asked. */
export function dataPacket(block: Buffer, compressed: boolean): Buffer {
  return Buffer.concat([varuintBytes(SERVER.Data), stringBytes(''), compressed ? nativeCompressed(block) : block]);
}

/** An Exception packet: code, class name, text (as a server's: the message, then its name), no stack, no nested one. */
export function exception(e: EngineError): Buffer {
  const codeBytes = Buffer.alloc(4);
  codeBytes.writeInt32LE(e.code);
  return Buffer.concat([varuintBytes(SERVER.Exception), codeBytes, stringBytes('DB::Exception'), stringBytes(displayText(e)), stringBytes(''), Buffer.from([0])]);
}
