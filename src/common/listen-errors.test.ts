// A failed listen says which of HOST and the port setting to change.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { listen, type Listening } from './http.js';
import { claimPort, listenError } from './listen-errors.js';
import { freePort } from './serve.js';
import { loadUws } from './uws.js';

describe('listenError', () => {
  let held: net.Server;
  let port = 0;
  beforeAll(async () => {
    held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    port = (held.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => held.close(() => resolve())));

  it('says the port variable is in use when it is', async () => {
    const e = await listenError('127.0.0.1', port, 'QUERY_PORT');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(new RegExp(`QUERY_PORT=${port} is already in use on 127\\.0\\.0\\.1.*set QUERY_PORT to a free port \\(0 picks one\\)`));
    expect(e.details).toMatchObject({ variable: 'QUERY_PORT', reason: 'EADDRINUSE' });
  });

  it('says HOST is not an address of this machine when it is not', async () => {
    const e = await listenError('256.1.1.1', 0, 'INGEST_PORT');
    expect(e.message).toMatch(/HOST=256\.1\.1\.1 is not an address of this machine/);
    expect(e.details).toMatchObject({ variable: 'HOST' });
  });
});

// uSockets binds a fixed port with SO_REUSEPORT, so a second uWS listen on it succeeds and the
// kernel splits connections between the two: the case claimPort exists for.
describe('a port another uWebSockets.js server listens on', () => {
  let other: Listening;
  let port = 0;
  beforeAll(async () => {
    port = await freePort('127.0.0.1');
    other = await listen(loadUws().App(), '127.0.0.1', port, undefined, true);
  });
  afterAll(() => other.closeAll());

  it('is shared by a bare uWS listen: the split this check prevents', async () => {
    const app = loadUws().App();
    const token = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', port, resolve));
    expect(token).toBeTruthy();
    loadUws().us_listen_socket_close(token as never);
  });

  it('is refused by claimPort with the setting to change', async () => {
    const e = await claimPort('127.0.0.1', port, 'QUERY_PORT').then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toMatch(new RegExp(`QUERY_PORT=${port} is already in use on 127\\.0\\.0\\.1`));
    expect((e as ConfigError).details).toMatchObject({ variable: 'QUERY_PORT', port, reason: 'EADDRINUSE' });
  });

  it('is refused by listen, and bound beside it only when shared on purpose', async () => {
    const refused = await listen(loadUws().App(), '127.0.0.1', port, 'INGEST_PORT').then(() => null, (err: unknown) => err);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).message).toMatch(new RegExp(`INGEST_PORT=${port} is already in use`));
    const beside = await listen(loadUws().App(), '127.0.0.1', port, 'INGEST_PORT', true);
    expect(beside.port).toBe(port);
    beside.closeAll();
  });

  it('leaves a free port free: the probe is closed before the listen', async () => {
    const free = await freePort('127.0.0.1');
    await expect(claimPort('127.0.0.1', free, 'QUERY_PORT')).resolves.toBeUndefined();
    const l = await listen(loadUws().App(), '127.0.0.1', free, 'QUERY_PORT');
    expect(l.port).toBe(free);
    l.closeAll();
  });
});
