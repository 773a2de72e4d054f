// The production image's install (Dockerfile): every runtime dependency with its native binaries,
// minus the in-process ClickHouse engine (chdb, @chdb/*) and the dev dependencies. Installing that
// for real takes a minute and the network (the manual check is in k8s/README.md), so this builds
// the same tree cheaply: a folder whose node_modules links only the runtime packages of
// package-lock.json except chdb, with a copy of dist/ (a link would resolve back to this checkout's
// node_modules). The CLI must load there and say what is missing instead of crashing.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/env.js';

const ROOT = path.resolve('.');
/** What the image leaves out, as the Dockerfile's build stage removes it. */
const ENGINE = (name: string) => name === 'chdb' || name.startsWith('@chdb/');

const dir = tempDir('trackhouse-runtime-');
let closedPort = 0;

function runtimePackages(): string[] {
  const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([key, meta]) => key.startsWith('node_modules/') && !key.slice('node_modules/'.length).includes('node_modules/') && !meta.dev)
    .map(([key]) => key.slice('node_modules/'.length))
    .filter((name) => !ENGINE(name) && existsSync(path.join(ROOT, 'node_modules', name)));
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['dist/cli/main.js', ...args], {
    cwd: dir.path,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', TRACKHOUSE_DATA_DIR: path.join(dir.path, 'data'), ...env },
    encoding: 'utf8',
  });
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build first (npm test does)');
  const modules = path.join(dir.path, 'node_modules');
  for (const name of runtimePackages()) {
    mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name), 'dir');
  }
  cpSync(path.join(ROOT, 'dist'), path.join(dir.path, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(dir.path, 'package.json'));
  mkdirSync(path.join(dir.path, 'src/schema'), { recursive: true });
  for (const d of ['src/schema/avsc', 'clickhouse']) symlinkSync(path.join(ROOT, d), path.join(dir.path, d), 'dir');
  const net = await import('node:net');
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(() => dir.remove());

describe('the production install (no chdb, no dev dependencies)', () => {
  it('is what the Dockerfile builds: everything installed, then only the engine removed', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    expect(dockerfile).not.toMatch(/--omit=optional/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/rm -rf node_modules\/chdb node_modules\/@chdb /);
  });

  it('has no chdb but keeps the native modules the CLI loads (lz4-napi, uWebSockets.js)', () => {
    const resolve = (name: string) =>
      spawnSync(process.execPath, ['-e', `import(${JSON.stringify(name)}).then(() => console.log('ok'), (e) => console.log(e.code))`], {
        cwd: dir.path,
        encoding: 'utf8',
      }).stdout.trim();
    expect(resolve('chdb')).toBe('ERR_MODULE_NOT_FOUND');
    expect(resolve('lz4-napi')).toBe('ok');
    expect(resolve('uWebSockets.js')).toBe('ok');
  });

  it('loads the CLI: --help exits 0 and lists the commands', () => {
    const r = cli(['--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const command of ['start', 'ingest', 'sink', 'query', 'migrate', 'replay']) expect(r.stdout).toContain(command);
  });

  it("has the dashboard's files: the built page and uPlot from a runtime dependency", () => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const { loadAssets } = await import('./dist/dashboard/assets.js'); const a = loadAssets(); console.log(JSON.stringify({ problem: a.problem, files: [...a.files.keys()].sort() }))",
      ],
      { cwd: dir.path, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { problem: string | null; files: string[] };
    expect(out.problem).toBeNull();
    expect(out.files).toEqual(expect.arrayContaining(['uplot.js', 'uplot.css', 'main.js', 'dashboard.css', 'favicon.svg', 'panels/live.js']));
  });

  it('migrate with CLICKHOUSE_URL pointing nowhere exits 2 naming CLICKHOUSE_URL', () => {
    const r = cli(['migrate'], { CLICKHOUSE_URL: `http://127.0.0.1:${closedPort}` });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^trackhouse: could not reach ClickHouse at http://127\\.0\\.0\\.1:${closedPort} \\(CLICKHOUSE_URL\\)`));
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('migrate without CLICKHOUSE_URL exits 2 saying the engine is not installed and to set CLICKHOUSE_URL', () => {
    const r = cli(['migrate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^trackhouse: CLICKHOUSE_URL is not set, so the in-process ClickHouse engine is used, but it .* is not installed/);
    expect(r.stderr).toMatch(/set CLICKHOUSE_URL to a ClickHouse server/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
