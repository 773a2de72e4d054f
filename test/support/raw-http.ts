// HTTP/1.1 over a plain socket, for tests about the bytes on the wire: requests are sent one
// after another on one keep-alive connection, each once the previous answer is complete, and the
// answers are read as a client does (a HEAD answer has no body whatever its Content-Length). So
// stray bytes after an answer (a HEAD answer with a body) show up as a broken next answer.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  /** The body as sent (compressed bodies are not text). */
  bodyBytes: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

function encode(r: RawRequest): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [k, v] of Object.entries(r.headers ?? {})) lines.push(`${k}: ${v}`);
  if (r.body !== undefined) lines.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]);
}

/**
 * One answer read from the front of `buf` as a client reads it, with the bytes after it; null
 * while it is incomplete. `head`: the answer to a HEAD (no body whatever its Content-Length).
 * Interim answers (1xx) are returned too. Throws on a malformed answer.
 */
export function readAnswer(buf: Buffer, head: boolean): { answer: RawAnswer; rest: Buffer } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!);
  if (!m) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(m[1]);
  const bodyless = head || status === 204 || status === 304 || status < 200;
  const length = bodyless ? 0 : Number(headers['content-length'] ?? NaN);
  if (!Number.isInteger(length)) throw new Error('an answer without Content-Length');
  if (buf.length < end + 4 + length) return null;
  const bytes = Buffer.from(buf.subarray(end + 4, end + 4 + length));
  return { answer: { status, headers, body: bytes.toString('utf8'), bodyBytes: bytes }, rest: buf.subarray(end + 4 + length) };
}

/**
 * Sends `requests` in turn on one connection to `host`; resolves with every answer, or rejects if
 * one is malformed or the connection ends first.
 */
export function exchange(port: number, requests: readonly RawRequest[], host = '127.0.0.1'): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const answers: RawAnswer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const socket = net.connect(port, host, () => socket.write(encode(requests[0]!)));
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`${why} (after ${answers.length} answers; unread: ${JSON.stringify(buf.toString('latin1').slice(0, 200))})`));
    };
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        let got: ReturnType<typeof readAnswer>;
        try {
          got = readAnswer(buf, requests[answers.length]!.method === 'HEAD');
        } catch (err) {
          return fail((err as Error).message);
        }
        if (got === null) return;
        buf = got.rest;
        if (got.answer.status < 200) continue;
        answers.push(got.answer);
        if (answers.length === requests.length) {
          socket.end();
          if (buf.length > 0) return fail('bytes after the last answer');
          return resolve(answers);
        }
        if (buf.length > 0) return fail('bytes before the next request was sent');
        socket.write(encode(requests[answers.length]!));
      }
    });
    socket.on('error', (err) => fail(`socket error: ${err.message}`));
    socket.on('end', () => {
      if (answers.length < requests.length) fail('the connection ended');
    });
  });
}
