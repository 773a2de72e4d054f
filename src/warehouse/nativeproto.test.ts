// The native protocol's packets, as clickhouse-go 2.51 writes them (lib/proto/query.go,
// handshake.go), read by the server's side; test/integration/sql-port.test.ts drives the real
// clients against the port.
import { describe, expect, it } from 'vitest';
import { nativeCompressed } from './compressed.js';
import { stringBytes as str, varuintBytes as varuint } from './native.js';
import { BadPacket, exception, NeedMore, PacketReader, readDataIsEmpty, readHello, readQuery, serverHello } from './nativeproto.js';

const u8 = (n: number) => Buffer.from([n]);

function hello(revision: number, user: string, password: string): Buffer {
  return Buffer.concat([str('clickhouse-go/2.51.0'), varuint(2), varuint(51), varuint(revision), str('default'), str(user), str(password)]);
}

/** A Query packet's body as clickhouse-go writes it at `revision` (54460), with a TCP client info. */
function query(revision: number, o: { settings?: [string, number, string][]; params?: [string, string][]; compression?: boolean; sql: string }): Buffer {
  const parts: Buffer[] = [str('q-1')];
  parts.push(u8(1), str(''), str(''), str('127.0.0.1:0'));
  if (revision >= 54449) parts.push(Buffer.alloc(8));
  parts.push(u8(1), str('root'), str('host'), str('clickhouse-go/2.51.0'), varuint(2), varuint(51), varuint(revision));
  parts.push(str('')); // quota key
  if (revision >= 54448) parts.push(varuint(0));
  parts.push(varuint(0)); // version patch
  if (revision >= 54442) parts.push(u8(1), Buffer.alloc(24, 7), str('vendor=x'), u8(1)); // an OpenTelemetry span
  if (revision >= 54453) parts.push(varuint(0), varuint(0), varuint(0));
  for (const [k, flags, v] of o.settings ?? []) parts.push(str(k), varuint(flags), str(v));
  parts.push(str(''));
  parts.push(str('')); // interserver secret
  parts.push(varuint(2), varuint(o.compression ? 1 : 0), str(o.sql));
  if (revision >= 54459) {
    for (const [k, v] of o.params ?? []) parts.push(str(k), varuint(2), str(v));
    parts.push(str(''));
  }
  return Buffer.concat(parts);
}

describe('the native protocol, read by the server', () => {
  it('reads a Hello, and asks for more while it is not whole', () => {
    const packet = hello(54460, 'grafana', 'bi-key');
    expect(readHello(new PacketReader(packet))).toEqual({ clientName: 'clickhouse-go/2.51.0', revision: 54460, database: 'default', user: 'grafana', password: 'bi-key' });
    for (let cut = 0; cut < packet.length; cut++) expect(() => readHello(new PacketReader(packet.subarray(0, cut))), String(cut)).toThrow(NeedMore);
  });

  it('reads a Query: its id, settings (a custom one unquoted), the statement, compression, and parameters as their text', () => {
    const packet = query(54460, {
      settings: [
        ['max_threads', 0, '2'],
        ['my_custom', 2, "'it\\'s'"],
      ],
      params: [
        ['user', "'u-1'"],
        // clickhouse-driver escapes a parameter twice: "a'b<TAB>c" as a field dump of its escaped text.
        ['odd', "'a\\\\\\'b\\\\tc'"],
      ],
      compression: true,
      sql: 'SELECT {user:String}, {odd:String}',
    });
    const r = new PacketReader(packet);
    expect(readQuery(r, 54460)).toEqual({
      queryId: 'q-1',
      settings: { max_threads: '2', my_custom: "it's" },
      compression: true,
      sql: 'SELECT {user:String}, {odd:String}',
      params: { user: 'u-1', odd: "a'b\tc" },
    });
    expect(r.at).toBe(packet.length);
    expect(() => readQuery(new PacketReader(packet.subarray(0, packet.length - 1)), 54460)).toThrow(NeedMore);
  });

  it('reads a Query of an older revision without the fields it lacks (54441: no start time, depth, span, replicas or parameters)', () => {
    const packet = query(54441, { sql: 'SELECT 1' });
    const r = new PacketReader(packet);
    expect(readQuery(r, 54441)).toEqual({ queryId: 'q-1', settings: {}, compression: false, sql: 'SELECT 1', params: {} });
    expect(r.at).toBe(packet.length);
  });

  it('takes the empty block that ends the external tables, plain or compressed, and refuses a table', () => {
    const empty = Buffer.from('0100' + '02ffffffff' + '00' + '0000', 'hex');
    expect(readDataIsEmpty(new PacketReader(Buffer.concat([str(''), empty])), false)).toBe(true);
    expect(readDataIsEmpty(new PacketReader(Buffer.concat([str(''), nativeCompressed(empty)])), true)).toBe(true);
    const table = Buffer.concat([Buffer.from('0100' + '02ffffffff' + '00' + '0101', 'hex'), str('x'), str('UInt8'), u8(1)]);
    expect(() => readDataIsEmpty(new PacketReader(Buffer.concat([str('ext'), table])), false)).toThrow(BadPacket);
    expect(readDataIsEmpty(new PacketReader(Buffer.concat([str('ext'), nativeCompressed(table)])), true)).toBe(false);
  });

  it('writes the Hello of revision 54460 and an Exception as clickhouse-go reads them', () => {
    expect(serverHello('26.7.2.1', 54460, 'trackhouse').toString('hex')).toBe(
      Buffer.concat([varuint(0), str('ClickHouse'), varuint(26), varuint(7), varuint(54460), str('UTC'), str('trackhouse'), varuint(2)]).toString('hex'),
    );
    const e = exception({ code: 164, type: 'READONLY', message: 'not Drop.' });
    const r = new PacketReader(e);
    expect(r.varuint()).toBe(2);
    expect(e.readInt32LE(1)).toBe(164);
    r.skip(4);
    expect([r.str(), r.str(), r.str(), r.u8(), r.at]).toEqual(['DB::Exception', 'not Drop. (READONLY)', '', 0, e.length]);
  });
});
