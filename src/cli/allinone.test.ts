// Which read-only SQL port `trackhouse start` serves for BI tools.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../common/errors.js';
import { loadConfig, withDevKeys } from '../config/index.js';
import { bannerLines, devKeysRefusal, sqlPortToServe } from './allinone.js';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A port another process holds (here: a plain listener). */
async function heldPort(): Promise<number> {
  const srv = net.createServer();
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return (srv.address() as net.AddressInfo).port;
}

function warnings() {
  const seen: string[] = [];
  return { seen, log: { warn: (_fields: object, msg: string) => void seen.push(msg) } as never };
}

describe('sqlPortToServe', () => {
  it('skips the default port when something else holds it, saying how to choose another', async () => {
    const held = await heldPort();
    const config = loadConfig({});
    const asDefault = { ...config, http: { ...config.http, biPort: { port: held, explicit: false } } };
    const w = warnings();
    expect(await sqlPortToServe(asDefault, w.log)).toBeNull();
    expect(w.seen).toEqual([`port ${held} is in use, so the read-only SQL port for BI tools is not served; set BI_PORT to a free port (0 picks one), or BI_PORT=off to say none`]);
  });

  it('stops the start when BI_PORT was chosen and is held, naming BI_PORT', async () => {
    const held = await heldPort();
    await expect(sqlPortToServe(loadConfig({ BI_PORT: String(held) }), warnings().log)).rejects.toThrow(ConfigError);
    await expect(sqlPortToServe(loadConfig({ BI_PORT: String(held) }), warnings().log)).rejects.toThrow(`BI_PORT=${held} is already in use`);
  });

  it('serves none with a ClickHouse server (BI tools connect to it) or with BI_PORT=off', async () => {
    expect(await sqlPortToServe(loadConfig({ CLICKHOUSE_URL: 'http://clickhouse:8123', BI_PORT: '9999' }), warnings().log)).toBeNull();
    expect(await sqlPortToServe(loadConfig({ BI_PORT: 'off' }), warnings().log)).toBeNull();
  });

  it('does the same for BI_NATIVE_PORT, naming it', async () => {
    const held = await heldPort();
    const config = loadConfig({});
    const w = warnings();
    expect(await sqlPortToServe({ ...config, http: { ...config.http, biNativePort: { port: held, explicit: false } } }, w.log, 'BI_NATIVE_PORT')).toBeNull();
    expect(w.seen).toEqual([
      `port ${held} is in use, so the read-only SQL port for BI tools in ClickHouse's native protocol is not served; set BI_NATIVE_PORT to a free port (0 picks one), or BI_NATIVE_PORT=off to say none`,
    ]);
    await expect(sqlPortToServe(loadConfig({ BI_NATIVE_PORT: String(held) }), warnings().log, 'BI_NATIVE_PORT')).rejects.toThrow(`BI_NATIVE_PORT=${held} is already in use`);
    expect(await sqlPortToServe(loadConfig({ BI_NATIVE_PORT: 'off', BI_PORT: '0' }), warnings().log, 'BI_NATIVE_PORT')).toBeNull();
    expect(await sqlPortToServe(loadConfig({ BI_NATIVE_PORT: '0' }), warnings().log, 'BI_NATIVE_PORT')).toBe(0);
  });

  it('serves a free port chosen with BI_PORT, and 0 for the kernel\'s pick', async () => {
    expect(await sqlPortToServe(loadConfig({ BI_PORT: '0' }), warnings().log)).toBe(0);
  });
});

describe('the banner of trackhouse start', () => {
  const ports = { ingestPort: 8080, queryPort: 8081, sinkPort: 8082, sqlPort: null, nativePort: null, brokers: ['127.0.0.1:9092'] };
  it('never prints a configured read or admin key (its output ends up in logs), and prints the dev keys it made up', () => {
    const config = loadConfig({ TRACKHOUSE_WRITE_KEYS: 'wk-1:web', TRACKHOUSE_READ_KEYS: 'rk-secret', TRACKHOUSE_ADMIN_KEYS: 'ak-secret:ops' });
    const text = bannerLines(config, withDevKeys(config.keys), ports).join('\n');
    expect(text).not.toMatch(/rk-secret|ak-secret/);
    expect(text).toContain("curl -H 'Authorization: Bearer <read key>'");
    const dev = loadConfig({});
    const devText = bannerLines(dev, withDevKeys(dev.keys), ports).join('\n');
    expect(devText).toContain("curl -H 'Authorization: Bearer dev-read-key'");
    expect(devText).toContain('admin key  dev-admin-key');
  });
});

describe('the dev keys of trackhouse start', () => {
  it('are refused on an address other machines reach, naming each key setting left unset; loopback takes them', () => {
    const none = withDevKeys(loadConfig({}).keys);
    expect(devKeysRefusal('0.0.0.0', none)).toBe(
      'HOST=0.0.0.0 is reachable from other machines, and TRACKHOUSE_WRITE_KEYS, TRACKHOUSE_READ_KEYS, TRACKHOUSE_ADMIN_KEYS are unset, so the published dev keys would be taken there (the admin key erases data); set them, or HOST=127.0.0.1',
    );
    const someSet = withDevKeys(loadConfig({ TRACKHOUSE_WRITE_KEYS: 'wk:web', TRACKHOUSE_READ_KEYS: 'rk' }).keys);
    expect(devKeysRefusal('10.1.2.3', someSet)).toMatch(/^HOST=10\.1\.2\.3 is reachable from other machines, and TRACKHOUSE_ADMIN_KEYS is unset/);
    for (const host of ['127.0.0.1', '127.0.1.1', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1', '[::ffff:127.0.0.1]']) expect(devKeysRefusal(host, none)).toBeNull();
    const all = withDevKeys(loadConfig({ TRACKHOUSE_WRITE_KEYS: 'wk:web', TRACKHOUSE_READ_KEYS: 'rk', TRACKHOUSE_ADMIN_KEYS: 'ak:ops' }).keys);
    expect(devKeysRefusal('0.0.0.0', all)).toBeNull();
  });

  it('read HOST as an address: every spelling of loopback takes them, anything else that only looks like 127.x.x.x does not', () => {
    const none = withDevKeys(loadConfig({}).keys);
    const taken = (hosts: string[]) => hosts.map((h) => [h, devKeysRefusal(h, none) === null]);
    // The same two loopback addresses written out in full, in hex, or in capitals.
    const loopback = ['0:0:0:0:0:0:0:1', '[0:0:0:0:0:0:0:1]', '::ffff:7f00:1', '::FFFF:127.0.0.1', '0:0:0:0:0:ffff:127.0.0.1'];
    expect(taken(loopback)).toEqual(loopback.map((h) => [h, true]));
    // Not addresses (half a bracket pair, IPv4 in brackets, an octet over 255), or not loopback.
    const other = ['[127.0.0.1', '127.0.0.1]', '[127.0.0.1]', '127.0.0.256', '::ffff:10.0.0.1', '128.0.0.1', '::'];
    expect(taken(other)).toEqual(other.map((h) => [h, false]));
  });
});
