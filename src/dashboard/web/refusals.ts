// Requests the ingest refused before it read any event (a wrong or missing write key, a body it
// could not read), from its counters in GET /v1/pipeline, each with what it means and what to do.
// These are never written to Kafka (anyone could fill a topic with them), so live volume has none
// of them: the ingest's counters since it started are the only record. Pure, unit-tested in Node.

export interface Refusal {
  code: string;
  count: number;
  /** The HTTP status the sender got, where the code has one. */
  status: number | null;
  /** One line: what it means and what to do. */
  meaning: string;
}

const MEANINGS: Readonly<Record<string, { status: number; meaning: string }>> = {
  unknown_write_key: {
    status: 401,
    meaning: 'unknown write key: the key the app sends is not in TRACKHOUSE_WRITE_KEYS. Put one of its keys (the part before ":") in the SDK.',
  },
  missing_write_key: {
    status: 401,
    meaning:
      'no write key: the request had none (Basic auth user name, or writeKey in the body), or its body could not be read to find one (then its reason below counts it too). Set the write key in the SDK.',
  },
  body_too_large: { status: 413, meaning: 'body too large: a batch over 500 KB or a single event over 32 KB. Send smaller batches.' },
  unsupported_encoding: { status: 415, meaning: 'unsupported Content-Encoding: the ingest undoes gzip and deflate only. Send one of those, or none.' },
  malformed_json: { status: 400, meaning: 'not JSON: the body did not parse. Check what the app sends.' },
  not_utf8: { status: 400, meaning: 'not UTF-8: the body is not valid UTF-8 text. Send UTF-8 JSON.' },
  corrupt_body: { status: 400, meaning: 'corrupt body: its gzip or deflate data could not be undone. Check the Content-Encoding header matches the body.' },
  invalid_body: { status: 400, meaning: 'not tracking calls: the body is JSON but not an object of events (a batch needs a "batch" array).' },
};

/**
 * Refused requests by code, busiest first: `unauthenticated` (401s by code) and
 * `bodies_rejected` (whole bodies by code). A body refused with a valid key is also a record in
 * the rejected topic; one refused without a key is counted in both maps (as missing_write_key and
 * by its reason), as the ingest counts it.
 */
export function refusals(unauthenticated: Readonly<Record<string, number>> | null, bodies: Readonly<Record<string, number>> | null): Refusal[] {
  const counts = new Map<string, number>();
  for (const m of [unauthenticated, bodies]) for (const [code, n] of Object.entries(m ?? {})) if (n > 0) counts.set(code, (counts.get(code) ?? 0) + n);
  return [...counts]
    .map(([code, count]) => {
      const known = Object.hasOwn(MEANINGS, code) ? MEANINGS[code] : undefined;
      return { code, count, status: known?.status ?? null, meaning: known?.meaning ?? `${code}: the sender's answer says why (docs/architecture/ingest.md, "Answers").` };
    })
    .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1));
}
