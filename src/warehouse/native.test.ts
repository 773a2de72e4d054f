// Native answers re-laid for a client protocol revision. The fixtures are chDB 26.7's own bytes
// (revision 0), written out column by column, so each test also checks that they are exactly
// what the engine wrote; test/integration/sql-port.test.ts checks the same against the engine and
// clickhouse-go.
import { describe, expect, it } from 'vitest';
import { ClickHouseException } from './http-interface.js';
import { layoutOf, nativeForRevision, splitType } from './native.js';

interface Column {
  name: string;
  type: string;
  /** The column's data as hex, prefix included (none when the block has no rows). */
  data: string;
}
interface Block {
  rows: number;
  columns: Column[];
}

const varuint = (n: number) => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(out);
};
const str = (s: string) => Buffer.concat([varuint(Buffer.byteLength(s)), Buffer.from(s)]);

/** Blocks as a server writes them for `revision`. */
function native(blocks: Block[], revision: number): Buffer {
  const parts: Buffer[] = [];
  for (const block of blocks) {
    if (revision > 0) parts.push(Buffer.from('0100' + '02ffffffff' + '00', 'hex'));
    parts.push(varuint(block.columns.length), varuint(block.rows));
    for (const c of block.columns) {
      parts.push(str(c.name), str(c.type));
      if (revision >= 54454) parts.push(Buffer.from([0]));
      parts.push(Buffer.from(c.data, 'hex'));
    }
  }
  return Buffer.concat(parts);
}

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b.toString('hex');
};

// SELECT number FROM numbers(5) SETTINGS max_block_size=2
const NUMBERS: Block[] = [
  { rows: 2, columns: [{ name: 'number', type: 'UInt64', data: u64(0) + u64(1) }] },
  { rows: 2, columns: [{ name: 'number', type: 'UInt64', data: u64(2) + u64(3) }] },
  { rows: 1, columns: [{ name: 'number', type: 'UInt64', data: u64(4) }] },
];
const NUMBERS_CHDB =
  '0102066e756d6265720655496e743634000000000000000001000000000000000102066e756d6265720655496e743634020000000000000003000000000000000101066e756d6265720655496e7436340400000000000000';

// SELECT NULL AS n, [1,2] AS a, map('k',1) AS m, (1,'a') AS t, toDecimal64(1.5, 2) AS d, CAST('a' AS Enum8('a'=1,'b,c'=2)) AS e
const MIXED: Block[] = [
  {
    rows: 1,
    columns: [
      { name: 'n', type: 'Nullable(Nothing)', data: '01' + '30' },
      { name: 'a', type: 'Array(UInt8)', data: u64(2) + '0102' },
      { name: 'm', type: 'Map(String, UInt8)', data: u64(1) + '016b' + '01' },
      { name: 't', type: 'Tuple(UInt8, String)', data: '01' + '0161' },
      { name: 'd', type: 'Decimal(18, 2)', data: u64(150) },
      { name: 'e', type: "Enum8('a' = 1, 'b,c' = 2)", data: '01' },
    ],
  },
];
const MIXED_CHDB =
  '0601016e114e756c6c61626c65284e6f7468696e6729013001610c41727261792855496e74382902000000000000000102016d124d617028537472696e672c2055496e7438290100000000000000016b010174145475706c652855496e74382c20537472696e672901016101640e446563696d616c2831382c2032299600000000000000016519456e756d3828276127203d20312c2027622c6327203d20322901';

// SELECT toLowCardinality('ab') AS lc, toLowCardinality(toNullable('x')) AS lcn FROM numbers(3)
const LOW_CARDINALITY: Block[] = [
  {
    rows: 3,
    columns: [
      // keys version 1; a granule with additional keys (0x600), 2 keys: '' and 'ab'; 3 UInt8 indexes.
      { name: 'lc', type: 'LowCardinality(String)', data: u64(1) + '0006000000000000' + u64(2) + '00' + '026162' + u64(3) + '010101' },
      { name: 'lcn', type: 'LowCardinality(Nullable(String))', data: u64(1) + '0006000000000000' + u64(3) + '00' + '00' + '0178' + u64(3) + '020202' },
    ],
  },
];
const LOW_CARDINALITY_CHDB =
  '0203026c63164c6f7743617264696e616c69747928537472696e6729010000000000000000060000000000000200000000000000000261620300000000000000010101036c636e204c6f7743617264696e616c697479284e756c6c61626c6528537472696e672929010000000000000000060000000000000300000000000000000001780300000000000000020202';

// SELECT [toLowCardinality('a')] AS al, CAST((1, 'x') AS Tuple(a UInt8, b String)) AS nt,
//        toDateTime64('2020-01-01 00:00:00', 3, 'UTC') AS dt, (1.5, 2.5)::Point AS p
const NESTED: Block[] = [
  {
    rows: 1,
    columns: [
      // The nested LowCardinality's prefix comes before the array's offsets.
      { name: 'al', type: 'Array(LowCardinality(String))', data: u64(1) + u64(1) + '0006000000000000' + u64(2) + '00' + '0161' + u64(1) + '01' },
      { name: 'nt', type: 'Tuple(a UInt8, b String)', data: '01' + '0178' },
      { name: 'dt', type: "DateTime64(3, 'UTC')", data: '00e8665e6f010000' },
      { name: 'p', type: 'Point', data: '000000000000f83f' + '0000000000000440' },
    ],
  },
];
const NESTED_CHDB =
  '040102616c1d4172726179284c6f7743617264696e616c69747928537472696e6729290100000000000000010000000000000000060000000000000200000000000000000161010000000000000001026e74185475706c6528612055496e74382c206220537472696e6729010178026474144461746554696d65363428332c2027555443272900e8665e6f010000017005506f696e74000000000000f83f0000000000000440';

// SELECT 1::Dynamic AS x
const DYNAMIC_CHDB = '010101780744796e616d69630100000000000000010106537472696e670000000000000000010131';

describe('Native for a client protocol revision', () => {
  const fixtures: [string, Block[], string][] = [
    ['blocks of one column', NUMBERS, NUMBERS_CHDB],
    ['Nullable(Nothing), Array, Map, Tuple, Decimal and an Enum with a comma in a name', MIXED, MIXED_CHDB],
    ['LowCardinality, Nullable inside it', LOW_CARDINALITY, LOW_CARDINALITY_CHDB],
    ['an Array of LowCardinality, a named Tuple, DateTime64 and Point', NESTED, NESTED_CHDB],
  ];

  for (const [what, blocks, chdb] of fixtures) {
    it(`re-lays ${what} as revisions 54460 and 54405 read them`, () => {
      expect(native(blocks, 0).toString('hex')).toBe(chdb);
      for (const revision of [54460, 54454, 54405]) {
        expect(nativeForRevision(Buffer.from(chdb, 'hex'), revision).toString('hex'), String(revision)).toBe(native(blocks, revision).toString('hex'));
      }
    });
  }

  it('leaves revision 0 as it is', () => {
    const body = Buffer.from(MIXED_CHDB, 'hex');
    expect(nativeForRevision(body, 0)).toBe(body);
  });

  it('writes a block of no rows with no data, as an empty result comes', () => {
    const empty: Block[] = [{ rows: 0, columns: [{ name: 'lc', type: 'LowCardinality(String)', data: '' }, { name: 's', type: 'String', data: '' }] }];
    expect(nativeForRevision(native(empty, 0), 54460).toString('hex')).toBe(native(empty, 54460).toString('hex'));
  });

  it('reads a LowCardinality column of several granules and wider indexes', () => {
    const keys = Array.from({ length: 300 }, (_, i) => str(`k${i}`).toString('hex')).join('');
    const indexes = Array.from({ length: 300 }, (_, i) => Buffer.from([i & 0xff, i >> 8]).toString('hex')).join('');
    const blocks: Block[] = [
      {
        rows: 301,
        columns: [
          { name: 'lc', type: 'LowCardinality(String)', data: u64(1) + u64(0x601) + u64(300) + keys + u64(300) + indexes + u64(1) + u64(1) + '0500' },
          { name: 'after', type: 'UInt8', data: '07'.repeat(301) },
        ],
      },
    ];
    expect(nativeForRevision(native(blocks, 0), 54460).toString('hex')).toBe(native(blocks, 54460).toString('hex'));
  });

  it('refuses a column it cannot lay out, naming the column and its type, as NOT_IMPLEMENTED', () => {
    const err = (() => {
      try {
        nativeForRevision(Buffer.from(DYNAMIC_CHDB, 'hex'), 54460);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ClickHouseException);
    expect([(err as ClickHouseException).code, (err as ClickHouseException).type]).toEqual([48, 'NOT_IMPLEMENTED']);
    expect((err as Error).message).toMatch(/client protocol 54460 .* column x of type Dynamic; cast it/);
  });

  it('refuses LowCardinality to a revision older than LowCardinality, which a server would have converted', () => {
    expect(() => nativeForRevision(Buffer.from(LOW_CARDINALITY_CHDB, 'hex'), 54404)).toThrow(/column lc of type LowCardinality\(String\)/);
    expect(nativeForRevision(Buffer.from(NUMBERS_CHDB, 'hex'), 54404).toString('hex')).toBe(native(NUMBERS, 54404).toString('hex'));
  });

  it('says where an answer it cannot read ends short, rather than sending a wrong one', () => {
    const whole = Buffer.from(MIXED_CHDB, 'hex');
    for (const cut of [1, 5, 20, whole.length - 1]) {
      expect(() => nativeForRevision(whole.subarray(0, cut), 54460), String(cut)).toThrow(/Native answer could not be read/);
    }
  });
});

describe('Native column types', () => {
  it('split at top-level commas only, quotes and nesting respected', () => {
    expect(splitType("Enum8('a,b' = 1, 'c)' = 2)")).toEqual({ name: 'Enum8', args: ["'a,b' = 1", "'c)' = 2"] });
    expect(splitType('Map(String, Array(Tuple(a UInt8, `b c` String)))')).toEqual({ name: 'Map', args: ['String', 'Array(Tuple(a UInt8, `b c` String))'] });
    expect(splitType('UInt8')).toEqual({ name: 'UInt8', args: [] });
  });

  it('know the width of fixed types, their parameters included', () => {
    const width = (type: string) => {
      const b = Buffer.alloc(64);
      return layoutOf(type).data({ buf: b, need: () => {} } as never, 0, 1);
    };
    const widths = Object.fromEntries(
      ["DateTime('UTC')", 'Decimal(9, 2)', 'Decimal(38, 2)', 'Decimal(76, 2)', 'Decimal64(3)', 'FixedString(5)', 'IntervalDay', 'IPv6', 'Bool', "SimpleAggregateFunction(sum, UInt32)"].map(
        (t) => [t, width(t)],
      ),
    );
    expect(widths).toEqual({
      "DateTime('UTC')": 4,
      'Decimal(9, 2)': 4,
      'Decimal(38, 2)': 16,
      'Decimal(76, 2)': 32,
      'Decimal64(3)': 8,
      'FixedString(5)': 5,
      IntervalDay: 8,
      IPv6: 16,
      Bool: 1,
      'SimpleAggregateFunction(sum, UInt32)': 4,
    });
  });

  it('do not guess the layout of JSON, Dynamic, Variant, AggregateFunction or Object', () => {
    for (const t of ['JSON', 'Dynamic', 'Variant(String, UInt8)', 'AggregateFunction(uniq, String)', "Object('json')", 'Nested(a UInt8)']) {
      expect(() => layoutOf(t), t).toThrow();
    }
  });
});
