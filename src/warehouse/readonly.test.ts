// Which statements the read-only SQL port runs, judged on the engine's own syntax-tree dumps
// (`EXPLAIN AST`, captured from chDB 26.7); test/integration/sql-port.test.ts runs them for real.
import { describe, expect, it } from 'vitest';
import { paramsAndSettings } from './http-interface.js';
import { DEFAULT_READ_ONLY_LIMITS, refusal, settingsClause, unquoted } from './readonly.js';

const ast = (text: string) => text.trim().split('\n');

const ROLLUP_SELECT = ast(`
SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier events_daily_by_event_v
 Identifier JSON`);

const NESTED_URL = ast(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Subquery (children 1)
       SelectWithUnionQuery (children 1)
        ExpressionList (children 1)
         SelectQuery (children 2)
          ExpressionList (children 1)
           Asterisk
          TablesInSelectQuery (children 1)
           TablesInSelectQueryElement (children 1)
            TableExpression (children 1)
             Function url (children 1)
              ExpressionList (children 2)
               Literal 'http://x/'
               Identifier CSV`);

const FILE_IN_LAMBDA = ast(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Function arrayMap (children 1)
     ExpressionList (children 2)
      Function lambda (children 1)
       ExpressionList (children 2)
        Function tuple (children 1)
         ExpressionList (children 1)
          Identifier x
        Function file (children 1)
         ExpressionList (children 1)
          Identifier x
      Literal Array_['/etc/passwd']`);

const SUBQUERY_SETTINGS = ast(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier t (alias t1)
   Set`);

const INTO_OUTFILE = ast(`
SelectWithUnionQuery (children 2)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Literal UInt64_1
 Literal 'x'`);

const NUMBERS = ast(`
SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function numbers (children 1)
       ExpressionList (children 1)
        Literal UInt64_3`);

describe('refusal (what the read-only SQL port runs)', () => {
  it('serves SELECT with FORMAT, SHOW, DESCRIBE, EXPLAIN of a SELECT, and rows made up by numbers()', () => {
    expect(refusal(ROLLUP_SELECT)).toBeNull();
    expect(refusal(NUMBERS)).toBeNull();
    expect(refusal(['ShowTables'])).toBeNull();
    expect(refusal(ast('DescribeQuery (children 1)\n TableExpression (children 1)\n  TableIdentifier t'))).toBeNull();
    expect(refusal(ast('Explain EXPLAIN (children 1)\n SelectWithUnionQuery (children 1)\n  ExpressionList (children 1)'))).toBeNull();
  });

  it('refuses writes, DDL, KILL and SYSTEM by the kind of statement', () => {
    expect(refusal(ast('InsertQuery   (children 2)\n Identifier t'))).toMatch(/read-only.*not Insert$/);
    expect(refusal(['DropQuery  events'])).toMatch(/not Drop$/);
    expect(refusal(ast('KillQueryQuery Literal_UInt64_1 ASYNC (children 1)\n Literal UInt64_1'))).toMatch(/not KillQuery$/);
    expect(refusal(['SYSTEM query'])).toMatch(/not SYSTEM$/);
    expect(refusal(['Set'])).toMatch(/not Set$/);
    expect(refusal(ast('Explain EXPLAIN (children 1)\n InsertQuery   (children 1)\n  Identifier t'))).toMatch(/EXPLAIN only of a SELECT/);
  });

  it('refuses table functions that reach outside the engine, however deep', () => {
    expect(refusal(NESTED_URL)).toMatch(/table function url\(\) is not served here \(only numbers, .*generateRandom, values, view, merge\)$/);
  });

  it('refuses file() as a scalar function, inside a lambda too', () => {
    expect(refusal(FILE_IN_LAMBDA)).toMatch(/file\(\) reads the server's files/);
  });

  it('refuses a SETTINGS clause anywhere, which could undo readonly for its part', () => {
    expect(refusal(SUBQUERY_SETTINGS)).toMatch(/SETTINGS in the statement are not served/);
  });

  it('refuses INTO OUTFILE, which readonly lets write files, on every statement that takes it', () => {
    expect(refusal(INTO_OUTFILE)).toMatch(/INTO OUTFILE/);
    expect(refusal(ast("ShowTables (children 1)\n Literal 'x'"))).toMatch(/INTO OUTFILE/);
    expect(refusal(ast("DescribeQuery (children 2)\n TableExpression (children 1)\n  TableIdentifier t\n Literal 'x'"))).toMatch(/INTO OUTFILE/);
    expect(refusal(ast("ExistsTableQuery  t (children 2)\n Identifier t\n Literal 'x'"))).toMatch(/INTO OUTFILE/);
    expect(refusal(ast("Explain EXPLAIN (children 2)\n SelectWithUnionQuery (children 1)\n  ExpressionList (children 1)\n Literal 'x'"))).toMatch(/INTO OUTFILE/);
  });

  it('blanks what is quoted, so only SQL\'s own INTO OUTFILE is found', () => {
    expect(unquoted("SELECT 'INTO OUTFILE' AS `INTO OUTFILE`")).toBe("SELECT '            ' AS `            `");
    expect(unquoted("SELECT 'it\\'s' INTO OUTFILE 'x'")).toBe("SELECT '     ' INTO OUTFILE ' '");
  });

  it('refuses an empty dump', () => {
    expect(refusal([])).toMatch(/empty/);
  });
});

describe('settingsClause', () => {
  it.each(['format_template_resultset', 'format_template_row', 'format_schema', 'output_format_schema', 'input_format_record_errors_file_path', 'format_avro_schema_registry_url', 'Format_Schema'])(
    'refuses %s, a setting naming a file or address of the server, with READONLY',
    (name) => {
      expect(() => settingsClause({ [name]: '/etc/hostname' }, DEFAULT_READ_ONLY_LIMITS)).toThrow(/names a file, directory or address of the server/);
    },
  );

  it('keeps the settings BI tools send (formats, limits, time zones)', () => {
    const clause = settingsClause({ output_format_json_quote_64bit_integers: '0', date_time_output_format: 'iso', max_result_rows: '10', session_timezone: 'UTC' }, DEFAULT_READ_ONLY_LIMITS);
    expect(clause).toMatch(/date_time_output_format = 'iso', max_result_rows = 10, session_timezone = 'UTC'/);
  });

  // What clickhouse-jdbc, clickhouse-go, clickhouse-connect, Metabase and Grafana put in the URL:
  // each is the interface's own parameter or a setting that names nothing of the server's.
  it.each([
    ['session_id', 'a1'], ['session_timeout', '60'], ['wait_end_of_query', '1'], ['output_format_json_quote_64bit_integers', '0'],
    ['date_time_input_format', 'best_effort'], ['enable_http_compression', '1'], ['http_zlib_compression_level', '3'], ['max_result_rows', '500'],
    ['result_overflow_mode', 'break'], ['extremes', '0'], ['default_format', 'JSON'], ['query_id', 'q-1'], ['database', 'default'],
    ['compress', '1'], ['decompress', '1'], ['role', 'analyst'], ['use_client_time_zone', '1'], ['send_progress_in_http_headers', '1'],
    ['http_headers_progress_interval_ms', '100'], ['output_format_arrow_string_as_string', '1'], ['session_timezone', 'UTC'],
  ])('takes %s=%s, which BI clients send, from the URL', (name, value) => {
    const { settings } = paramsAndSettings(new URLSearchParams({ [name]: value }));
    const clause = settingsClause(settings, DEFAULT_READ_ONLY_LIMITS);
    if (name in settings && name !== 'result_overflow_mode') expect(clause).toContain(`${name} = `);
  });

  it('gives a server\'s JSON defaults, then the caller\'s settings, then the limits, and readonly last', () => {
    const clause = settingsClause({ max_threads: '1', note: "it's" }, { maxSeconds: 30, maxResultBytes: 1000, maxMemoryBytes: 5000 });
    expect(clause).toBe(
      " SETTINGS output_format_json_quote_64bit_integers = 1, max_threads = 1, note = 'it\\'s', max_execution_time = 30, max_result_bytes = 1000, result_overflow_mode = 'throw', max_memory_usage = 5000, readonly = 1",
    );
  });

  it('lets a caller lower a limit but not lift it, nor set readonly or the overflow mode', () => {
    const limits = { maxSeconds: 30, maxResultBytes: 1000, maxMemoryBytes: 5000 };
    expect(settingsClause({ max_execution_time: '5', max_result_bytes: '5000', readonly: '0', result_overflow_mode: 'break', max_memory_usage: '0' }, limits)).toBe(
      " SETTINGS output_format_json_quote_64bit_integers = 1, max_execution_time = 5, max_result_bytes = 1000, result_overflow_mode = 'throw', max_memory_usage = 5000, readonly = 1",
    );
    expect(settingsClause({ output_format_json_quote_64bit_integers: '0' }, limits)).toMatch(/^ SETTINGS output_format_json_quote_64bit_integers = 0, /);
  });

  it('quotes backslashes so a value cannot end its literal early', () => {
    expect(settingsClause({ a: "x\\' , readonly = 0 --" }, DEFAULT_READ_ONLY_LIMITS)).toContain("a = 'x\\\\\\' , readonly = 0 --'");
  });

  it('refuses a name that is not an identifier', () => {
    expect(() => settingsClause({ 'readonly=0,x': '1' }, DEFAULT_READ_ONLY_LIMITS)).toThrow(/is not a setting name/);
  });
});
