import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRules } from './rules.js';
import type { Note } from './store.js';
import { callWebhook } from './webhook.js';

const note: Note = { seq: 1, id: 'n1', rule: 'r', group: '', kind: 'alert', windowStart: 0, windowEnd: 60_000, value: 2, early: false, createdAt: 0, status: 'pending', attempts: 0, nextAt: 0, lastError: null, doneAt: null, by: null };
const rule = (url: string) => parseRules({ rules: [{ name: 'r', window: { type: 'tumbling', size: '1m' }, condition: { above: 1 }, webhook: { url } }] }, { latenessMs: 60_000 })[0]!;

describe('a webhook attempt', () => {
  let server: http.Server;
  let base = '';
  let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, res) => res.end('ok');
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => answer(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('does not follow a redirect, and its error says so with where it points (the origin alone: a hook path is a credential)', async () => {
    answer = (_q, res) => {
      res.writeHead(301, { location: 'https://new.example.com/services/T0/SECRET?token=Q' });
      res.end();
    };
    const r = await callWebhook(rule(`${base}/hook`), note, 1, 2_000);
    expect(r).toEqual({ ok: false, error: 'HTTP 301: redirects are not followed (Location: https://new.example.com/…); set webhook.url to where it points' });
    answer = (_q, res) => {
      res.writeHead(307, { location: '/moved' });
      res.end();
    };
    expect(await callWebhook(rule(`${base}/hook`), note, 1, 2_000)).toEqual({ ok: false, error: `HTTP 307: redirects are not followed (Location: ${base}/…); set webhook.url to where it points` });
  });

  it('says what happened to a connection, where it said UND_ERR_SOCKET or "fetch failed"', async () => {
    answer = (req) => req.socket.destroy();
    const closed = await callWebhook(rule(`${base}/hook`), note, 1, 2_000);
    expect(closed).toEqual({ ok: false, error: 'UND_ERR_SOCKET: other side closed' });
    answer = (_q, res) => res.end('ok');
    expect(await callWebhook(rule(`${base}/hook`), note, 1, 2_000)).toEqual({ ok: true, status: 200 });
  });
});
