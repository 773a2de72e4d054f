// A failed listen says which of HOST and the port setting to change.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { listenError } from './listen-errors.js';

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
