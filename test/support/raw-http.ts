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

/** Sends `requests` in turn on one connection; resolves with every answer, or rejects if one is malformed or the connection ends first. */
export function exchange(port: number, requests: readonly RawRequest[]): Promise<RawAnswer[]> {
  return new Promise((resolve, reject) => {
    const answers: RawAnswer[] = [];
    let buf = Buffer.alloc(0);
    const socket = net.connect(port, '127.0.0.1', () => socket.write(encode(requests[0]!)));
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`${why} (after ${answers.length} answers; unread: ${JSON.stringify(buf.toString('latin1').slice(0, 200))})`));
    };
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.1 (\d{3}) /.exec(head[0]!);
        if (!m) return fail(`not a status line: ${JSON.stringify(head[0])}`);
        const headers: Record<string, string> = {};
        for (const line of head.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const status = Number(m[1]);
        const bodyless = requests[answers.length]!.method === 'HEAD' || status === 204 || status === 304 || status < 200;
        const length = bodyless ? 0 : Number(headers['content-length'] ?? NaN);
        if (!Number.isInteger(length)) return fail('an answer without Content-Length');
        if (buf.length < end + 4 + length) return;
        if (status >= 200) {
          const bytes = Buffer.from(buf.subarray(end + 4, end + 4 + length));
          answers.push({ status, headers, body: bytes.toString('utf8'), bodyBytes: bytes });
        }
        buf = buf.subarray(end + 4 + length);
        if (status < 200) continue;
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
