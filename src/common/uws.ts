// Loads the native uWebSockets.js binary that fits this Node.js and this C library, and refuses
// to run on anything else.
//
// uWebSockets.js is not published on npm by its authors; trackhouse takes registry builds, each
// an npm alias in package.json, and picks one at start by Node's ABI (process.versions.modules)
// and the glibc version (process.report):
//
//   Node 20 (ABI 115)        uWebSockets.js = @trufflesuite/uws-js-unofficial 20.30.0-unofficial.0
//                            (uWS.js v20.30, glibc 2.27+): the build trackhouse was probed with
//   Node 22/24/25 (127/137/  uws-official = @btc-vision/uwebsockets.js 20.57.0, the official
//   141), glibc >= 2.38      uWS.js v20.57.0 binaries (built on Ubuntu 24.04: glibc 2.38+)
//   Node 22 (127), older     uws-node22 = uws-pack 20.0.8, a repack of an earlier official build
//   glibc (>= 2.27)          (uWS.js v20.4x, built on Ubuntu 20.04); an optional dependency
//                            npm installs on Node 22 and later only (its engines say >=22)
//
// The binary is required directly, never through a package's main file: the trufflesuite
// package's main silently falls back to a pure-JS server, an order of magnitude slower and
// different in behaviour, when its binary does not load. Here a build that does not fit is an
// error naming what to install. Which build was loaded is logged once at start.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type uWS from 'uWebSockets.js';
import { PrerequisiteError } from './errors.js';

const require = createRequire(import.meta.url);

export type Uws = typeof uWS;

export interface UwsBuild {
  /** The dependency (npm alias) in package.json. */
  readonly dependency: string;
  /** What it is, for logs and errors. */
  readonly description: string;
  /** Node ABIs (process.versions.modules) this build is used for. */
  readonly abis: readonly string[];
  /** Oldest glibc its Linux binaries load on [major, minor]. */
  readonly glibc: readonly [number, number];
  /** The binary's path inside the package. */
  binary(platform: string, arch: string, abi: string): string;
  /** Installed only on some Node versions (optional dependency with engines). */
  readonly optional?: boolean;
}

/** In order of preference; the first that fits is loaded. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  {
    dependency: 'uWebSockets.js',
    description: 'uWS.js v20.30.0 (npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0)',
    abis: ['115'],
    glibc: [2, 27],
    binary: (p, a, abi) => `binaries/uws_${p}_${a}_${abi}.node`,
  },
  {
    dependency: 'uws-official',
    description: 'uWS.js v20.57.0, official binaries (npm:@btc-vision/uwebsockets.js@20.57.0)',
    abis: ['127', '137', '141'],
    glibc: [2, 38],
    binary: (p, a, abi) => `uws_${p}_${a}_${abi}.node`,
  },
  {
    dependency: 'uws-node22',
    description: 'uWS.js v20.4x for older glibc (npm:uws-pack@20.0.8)',
    abis: ['127'],
    glibc: [2, 27],
    binary: (p, a, abi) => `dist/bin/uws_${p}_${a}_${abi}.node`,
    optional: true,
  },
];

const NODE_OF_ABI: Record<string, string> = { '115': '20', '127': '22', '137': '24', '141': '25' };

export interface Runtime {
  platform: string;
  arch: string;
  /** process.versions.modules */
  abi: string;
  /** process.version */
  node: string;
  /** "2.36"; null on Linux without glibc (musl); ignored off Linux. */
  glibc: string | null;
}

export interface UwsChoice {
  build: UwsBuild;
  /** Absolute path of the binary. */
  file: string;
}

/** Where a dependency's files are, or null when it is not installed. */
export type PackageDir = (dependency: string) => string | null;

function glibcAtLeast(have: string | null, need: readonly [number, number]): boolean {
  if (have === null) return false;
  const [major, minor] = have.split('.').map(Number) as [number, number];
  return major > need[0] || (major === need[0] && minor >= need[1]);
}

/**
 * The build to load for `rt`, or a PrerequisiteError saying why there is none and what to do.
 * Pure (given `packageDir` and `exists`) so the choice is tested for every Node/glibc pair.
 */
export function chooseUwsBuild(rt: Runtime, packageDir: PackageDir, exists: (file: string) => boolean = existsSync): UwsChoice {
  const linux = rt.platform === 'linux';
  const forAbi = UWS_BUILDS.filter((b) => b.abis.includes(rt.abi));
  const here = `Node ${rt.node} (ABI ${rt.abi}) on ${rt.platform}-${rt.arch}${linux ? `, glibc ${rt.glibc ?? 'none (musl?)'}` : ''}`;
  if (forAbi.length === 0) {
    const supported = Object.entries(NODE_OF_ABI)
      .map(([abi, node]) => `${node} (ABI ${abi})`)
      .join(', ');
    throw new PrerequisiteError(
      `trackhouse has no uWebSockets.js build for ${here}. Its builds cover Node ${supported}; use Node 22 or 24 (Node 20 is past its end of life).`,
    );
  }
  if (linux && rt.glibc === null) {
    throw new PrerequisiteError(
      `uWebSockets.js ships binaries for glibc only, and this Linux has none (${here}): use a Debian or Ubuntu based system or image (node:22 or node:24, not -alpine).`,
    );
  }
  const missing: UwsBuild[] = [];
  for (const build of forAbi) {
    if (linux && !glibcAtLeast(rt.glibc, build.glibc)) continue;
    const dir = packageDir(build.dependency);
    if (dir === null) {
      missing.push(build);
      continue;
    }
    const file = path.join(dir, build.binary(rt.platform, rt.arch, rt.abi));
    if (exists(file)) return { build, file };
  }
  if (missing.length > 0) {
    const m = missing[0]!;
    throw new PrerequisiteError(
      `${here} needs the uWebSockets.js build ${m.description}, package "${m.dependency}", which is not installed` +
        `${m.optional ? ' (an optional dependency npm installs on Node 22 and later only)' : ''}: run npm ci with this Node version.`,
    );
  }
  const glibcNeeds = forAbi.filter((b) => linux && !glibcAtLeast(rt.glibc, b.glibc));
  if (glibcNeeds.length === forAbi.length) {
    const need = Math.min(...glibcNeeds.map((b) => b.glibc[1]));
    const node = NODE_OF_ABI[rt.abi] ?? rt.node;
    const systems = need >= 38 ? ' (Debian 13, Ubuntu 24.04, the node:22 and node:24 images)' : '';
    const older = UWS_BUILDS.filter((b) => glibcAtLeast(rt.glibc, b.glibc))
      .flatMap((b) => b.abis.map((abi) => NODE_OF_ABI[abi]))
      .filter((n, i, all) => n !== undefined && all.indexOf(n) === i);
    throw new PrerequisiteError(
      `uWebSockets.js for Node ${node} needs glibc 2.${need} or newer${systems}; this is ${here}.` +
        (older.length > 0 ? ` On this system use Node ${older.join(' or ')}, or move to a newer system.` : ' Move to a newer system.'),
    );
  }
  throw new PrerequisiteError(`no uWebSockets.js binary for ${rt.platform}-${rt.arch} in ${forAbi.map((b) => b.description).join(' or ')} (${here})`);
}

/** The running process as chooseUwsBuild sees it. */
export function currentRuntime(): Runtime {
  let glibc: string | null = null;
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    glibc = header?.glibcVersionRuntime ?? null;
  }
  return { platform: process.platform, arch: process.arch, abi: process.versions.modules, node: process.version, glibc };
}

/**
 * The installed package's folder, found along Node's module search path (not require.resolve:
 * the uws-official and uws-node22 packages export no ./package.json).
 */
export function installedDir(dependency: string): string | null {
  for (const dir of require.resolve.paths(dependency) ?? []) {
    const candidate = path.join(dir, dependency);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
  }
  return null;
}

let loaded: { uws: Uws; choice: UwsChoice; runtime: Runtime } | undefined;
let logged = false;

/**
 * Returns the native uWebSockets.js module, or throws a PrerequisiteError saying why there is
 * none. The first call given a logger logs which build was loaded (once per process or thread).
 */
export function loadUws(log?: { info(obj: object, msg: string): void }): Uws {
  const uws = load();
  if (log && !logged) {
    logged = true;
    log.info({ uws: uwsLoaded() }, 'uWebSockets.js native build loaded');
  }
  return uws;
}

/**
 * The most bytes of a request's line and headers the builds for Node 22 and 24 (uWS v20.4x+) read,
 * given to them in UWS_HTTP_MAX_HEADERS_SIZE, which they read from the environment when they load
 * (their own default, 4 KB, answers 431 to a per-user URL of a long user id, a Segment or Snowplow
 * pixel with a large payload). The Node 20 build reads about as much as this without it.
 */
export const UWS_MAX_HEADERS_BYTES = 65_536;

function load(): Uws {
  if (loaded) return loaded.uws;
  const runtime = currentRuntime();
  const choice = chooseUwsBuild(runtime, installedDir);
  // Not a setting of trackhouse's (src/config reads those): the native module's own knob, read by it
  // from the environment, so it is put there before the module loads. An operator's value stays.
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(UWS_MAX_HEADERS_BYTES);
  let uws: Uws;
  try {
    uws = require(choice.file) as Uws;
  } catch (err) {
    throw new PrerequisiteError(`uWebSockets.js (${choice.build.description}) did not load from ${choice.file}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof uws.App !== 'function') throw new PrerequisiteError(`${choice.file} is not a uWebSockets.js binary (no App)`);
  loaded = { uws, choice, runtime };
  return uws;
}

/** What loadUws() loaded (for the start-up log line), or null before it ran. */
export function uwsLoaded(): { dependency: string; build: string; binary: string; node: string; glibc: string | null } | null {
  if (!loaded) return null;
  return {
    dependency: loaded.choice.build.dependency,
    build: loaded.choice.build.description,
    binary: loaded.choice.file,
    node: loaded.runtime.node,
    glibc: loaded.runtime.glibc,
  };
}
