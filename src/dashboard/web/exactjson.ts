// Reading the API's JSON without rounding 64-bit integers. The query API answers an integer past
// 2^53 (an order or database id in properties) with the digits it was sent, which JSON.parse alone
// turns into the nearest double (12345678901234567891 reads as 12345678901234567000). Where the
// browser has JSON.parse source text access (Chromium 114+, Firefox 135+), such a number becomes
// JSON.rawJSON(its digits), which JSON.stringify writes verbatim; elsewhere parsing is JSON.parse's.
// Pure, no DOM.

/** What JSON.rawJSON returns: a frozen object that only JSON.stringify writes (String() throws). */
export interface RawJson {
  readonly rawJSON: string;
}

/** A reviver's third argument under source text access: the text of a primitive value. */
interface ReviverContext {
  readonly source?: string;
}

export type Reviver = (key: string, value: unknown, context?: ReviverContext) => unknown;

/** ES2022's lib (tsconfig.web.json) does not declare JSON.rawJSON. */
const nativeRawJSON = (JSON as { rawJSON?: (text: string) => RawJson }).rawJSON;

const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

/**
 * True when `source` is an integer literal that the double `value` does not print back: its
 * digits were rounded. Safe integers are exact: checked first, as most values are (and -0, which
 * prints as 0, stays a number).
 */
export function roundedInteger(value: unknown, source: string): boolean {
  return typeof value === 'number' && !Number.isSafeInteger(value) && String(value) !== source && INTEGER_LITERAL.test(source);
}

/** A reviver that puts `rawJSON(digits)` where a rounded integer would be; every other value stays. */
export function keepDigits(rawJSON: (text: string) => RawJson): Reviver {
  return (_key, value, context) => {
    const source = context?.source;
    return source !== undefined && roundedInteger(value, source) ? rawJSON(source) : value;
  };
}

const nativeReviver: Reviver | null = nativeRawJSON === undefined ? null : keepDigits(nativeRawJSON);

/**
 * JSON.parse(text), with integers past 2^53 kept digit for digit where the browser can
 * (`reviver` is for tests; null: exactly JSON.parse, as in a browser without source text access).
 * A kept integer is an object: show it with JSON.stringify only. A call per value: for reads shown
 * as JSON, not for polled counts.
 */
export function parseExact(text: string, reviver: Reviver | null = nativeReviver): unknown {
  return reviver === null ? JSON.parse(text) : JSON.parse(text, reviver);
}
