// CLICKHOUSE_URL switches the same code from chDB to a ClickHouse server over HTTP. No server is
// available on this machine (Debian's is version 18.16), so this proves the switch itself: the
// migrate command sends its SQL, with the configured credentials and database, to that URL.
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';

describe('CLICKHOUSE_URL', () => {
  const dir = tempDir();
  const seen: { url: string; auth: string | undefined; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, body });
      // Refuse every statement: enough to see what was sent, and the command must report it.
      res.writeHead(500, { 'X-ClickHouse-Exception-Code': '497' });
      res.end('Code: 497. DB::Exception: test server refuses everything. (ACCESS_DENIED)');
    });
  });
  afterAll(() => {
    server.close();
    dir.remove();
  });

  it('sends trackhouse migrate to the server, with credentials and database, and reports its error', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'migrate'], {
      env: {
        PATH: process.env.PATH,
        TRACKHOUSE_DATA_DIR: dir.path,
        CLICKHOUSE_URL: `http://127.0.0.1:${port}`,
        CLICKHOUSE_USER: 'analyst',
        CLICKHOUSE_PASSWORD: 'secret',
        CLICKHOUSE_DATABASE: 'tracking',
      },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
    // Reported as one line naming the server's error, without a stack trace.
    expect(code).toBe(2);
    expect(stderr).toMatch(/^trackhouse: .*ACCESS_DENIED/m);
    expect(stderr).not.toMatch(/^\s+at /m);
    // The first statement is the start-up check (SELECT 1); the migrations' SQL follows it.
    const migration = seen.find((s) => (s.body + s.url).includes('trackhouse_migrations'));
    expect(migration).toBeDefined();
    for (const s of seen) {
      expect(s.auth).toBe(`Basic ${Buffer.from('analyst:secret').toString('base64')}`);
      expect(s.url).toContain('database=tracking');
    }
  });

  it('takes the user and password of a URL that holds them, and never prints the password', async () => {
    const port = (server.address() as { port: number }).port;
    seen.length = 0;
    const child = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'migrate'], {
      env: { PATH: process.env.PATH, TRACKHOUSE_DATA_DIR: dir.path, CLICKHOUSE_URL: `http://analyst:s%40cr3t-In-Url@127.0.0.1:${port}`, CLICKHOUSE_USER: 'ignored' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
    expect(code).toBe(2);
    expect(output).toMatch(new RegExp(`^trackhouse: .*ACCESS_DENIED`, 'm'));
    expect(seen.length).toBeGreaterThan(0);
    for (const s of seen) expect(s.auth).toBe(`Basic ${Buffer.from('analyst:s@cr3t-In-Url').toString('base64')}`);
    expect(output).not.toMatch(/cr3t-In-Url/);
    // Every line is trackhouse's: no warning of the client's about the URL overriding a setting.
    expect(output).not.toContain('@clickhouse/client');
    // Nothing listening there: the message names the URL, without its password.
    const unreachable = spawn(process.execPath, [path.resolve('dist/cli/main.js'), 'migrate'], {
      env: { PATH: process.env.PATH, TRACKHOUSE_DATA_DIR: dir.path, CLICKHOUSE_URL: 'http://analyst:s%40cr3t-In-Url@127.0.0.1:1' },
    });
    let stderr = '';
    unreachable.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await new Promise<number>((resolve) => unreachable.once('exit', (c) => resolve(c ?? -1)))).toBe(2);
    expect(stderr).toContain('trackhouse: could not reach ClickHouse at http://127.0.0.1:1/ (CLICKHOUSE_URL)');
    expect(stderr).not.toMatch(/cr3t-In-Url/);
  });
});
