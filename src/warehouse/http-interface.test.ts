// The pieces of ClickHouse's HTTP interface the SQL port answers with.
import { describe, expect, it } from 'vitest';
import { contentTypeOf, engineError, errorBody, paramsAndSettings, statusOf, unescapeParam } from './http-interface.js';

describe('ClickHouse HTTP interface pieces', () => {
  it('reads the code, message and name of an engine error from the message its cause carries', () => {
    const err = Object.assign(new Error('Unknown table'), {
      code: '60',
      type: 'UNKNOWN_TABLE',
      cause: { message: "Code: 60. DB::Exception: Unknown table expression identifier 'x' in scope SELECT * FROM x. (UNKNOWN_TABLE)" },
    });
    expect(engineError(err)).toEqual({ code: 60, type: 'UNKNOWN_TABLE', message: "Unknown table expression identifier 'x' in scope SELECT * FROM x.", stated: true });
  });

  it('takes a numeric code and type from errors of this process', () => {
    expect(engineError(Object.assign(new Error('no'), { code: 164, type: 'READONLY' }))).toEqual({ code: 164, type: 'READONLY', message: 'no', stated: true });
    // Not an engine's error (an aborted request, a failure of this process's own): not stated.
    expect(engineError(new Error('boom'))).toMatchObject({ code: 1001, stated: false });
  });

  it('writes the error body ClickHouse clients parse, with one period after the message', () => {
    expect(errorBody({ code: 62, type: 'SYNTAX_ERROR', message: 'Empty query. ' }, '26.7.2.1')).toBe('Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR) (version 26.7.2.1)\n');
  });

  it('answers 4xx for what is about the request, as ClickHouse does, and 500 otherwise', () => {
    expect([194, 516, 164, 62, 60, 115, 159, 202, 393, 396, 241].map(statusOf)).toEqual([401, 403, 403, 400, 404, 404, 408, 503, 413, 400, 500]);
  });

  it('labels results by format', () => {
    expect(contentTypeOf('JSONEachRow')).toMatch(/^application\/json/);
    expect(contentTypeOf('TabSeparatedWithNames')).toMatch(/^text\/tab-separated-values/);
    expect(contentTypeOf('CSV')).toMatch(/^text\/csv/);
    expect(contentTypeOf('Native')).toBe('application/octet-stream');
    expect(contentTypeOf('Pretty')).toMatch(/^text\/plain/);
  });

  it('splits a request\'s URL into {name:Type} parameters and settings, leaving the interface\'s own parameters out', () => {
    const search = new URLSearchParams('query=SELECT+1&param_user=a%5Ctb&max_threads=2&default_format=JSON&compress=1&http_zlib_compression_level=3&readonly=0');
    expect(paramsAndSettings(search)).toEqual({ params: { user: 'a\tb' }, settings: { max_threads: '2', readonly: '0' } });
  });

  it('reads a parameter in ClickHouse\'s escaped text form back to its value', () => {
    expect(unescapeParam("a\\tb\\\\n\\'c\\n")).toBe("a\tb\\n'c\n");
  });
});
