// The client generators test/integration/openapi-clients.test.ts runs on docs/openapi.yaml, as a
// microservice team would: openapi-typescript (types for openapi-fetch) and OpenAPI Generator's
// CLI (a python client). Each is fetched once into .trackhouse/ at the version pinned here or in
// test/support/openapi-ts/package-lock.json, so a second run needs no network.
//
// openapi-typescript is not one of the project's devDependencies: it prints its output with
// TypeScript's compiler API, which TypeScript 7 (the project's tsc, a native build) no longer has,
// and it declares `typescript@^5` as a peer, which npm cannot satisfy beside ^7. It gets a package
// of its own (test/support/openapi-ts/package.json), installed with `npm ci` under .trackhouse/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runChild } from './child.js';
import { mvnOnPath } from './sdk-clients.js';

export const OPENAPI_SPEC = path.resolve('docs/openapi.yaml');
const TOOL_PACKAGE = path.resolve('test/support/openapi-ts');
/** The generated types the client file is written against: made by each run of the test (gitignored). */
export const OPENAPI_TS_TYPES = path.join(TOOL_PACKAGE, 'api.d.ts');
export const OPENAPI_TS_CLIENT = path.join(TOOL_PACKAGE, 'client.ts');
const CACHE = path.resolve('.trackhouse/openapi');
/** OpenAPI Generator's CLI, from Maven Central. */
export const OPENAPI_GENERATOR_VERSION = '7.25.0';
/** The dependency plugin, by version: Maven's default one differs between Maven releases. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** Why OpenAPI Generator cannot run here (no java, or no mvn before its jar is cached), or null. */
export function openapiGeneratorProblem(): string | null {
  const what = "the python client OpenAPI Generator makes from docs/openapi.yaml (openapi-clients) is SKIPPED";
  if (spawnSync('java', ['-version'], { stdio: 'ignore', timeout: 30_000 }).status !== 0) return `${what}: java is not on PATH (install a Java 11+ runtime)`;
  if (!existsSync(generatorJar()) && !mvnOnPath()) {
    return `${what}: mvn is not on PATH, and it fetches org.openapitools:openapi-generator-cli from Maven Central on first use (for example: apt install maven)`;
  }
  return null;
}

function generatorJar(): string {
  return path.join(CACHE, `openapi-generator-cli-${OPENAPI_GENERATOR_VERSION}.jar`);
}

/** The CLI's jar, fetched with mvn on first use. */
export async function ensureOpenapiGenerator(): Promise<string> {
  const jar = generatorJar();
  if (existsSync(jar)) return jar;
  const partial = path.join(CACHE, `jar.tmp-${process.pid}`);
  const r = await runChild('mvn', [
    '-q',
    '-B',
    `-Dmaven.repo.local=${path.join(CACHE, 'm2')}`,
    `${DEPENDENCY_PLUGIN}:copy`,
    `-Dartifact=org.openapitools:openapi-generator-cli:${OPENAPI_GENERATOR_VERSION}`,
    `-DoutputDirectory=${partial}`,
  ]);
  if (r.code !== 0) throw new Error(`mvn could not fetch openapi-generator-cli ${OPENAPI_GENERATOR_VERSION} (exit ${r.code}):\n${r.text.slice(-4000)}`);
  mkdirSync(path.dirname(jar), { recursive: true });
  renameSync(path.join(partial, path.basename(jar)), jar);
  rmSync(partial, { recursive: true, force: true });
  return jar;
}

/** What the generator printed, and each line of its log at WARN or ERROR. */
export interface Generated {
  dir: string;
  output: string;
  warnings: string[];
}

/** Runs OpenAPI Generator's `python` generator on the spec into `dir` (package `trackhouse_client`). */
export async function generatePython(jar: string, dir: string): Promise<Generated> {
  const r = await runChild('java', ['-jar', jar, 'generate', '-i', OPENAPI_SPEC, '-g', 'python', '-o', dir, '--package-name', 'trackhouse_client'], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`openapi-generator-cli generate -g python failed (exit ${r.code}):\n${r.text.slice(-4000)}`);
  const warnings = r.text.split('\n').filter((l) => /\] (WARN|ERROR) /.test(l)).map((l) => l.replace(/^\[[^\]]*\] /, ''));
  return { dir, output: r.text, warnings };
}

/** openapi-typescript's command, installed from the committed lock file on first use. */
export async function ensureOpenapiTypescript(): Promise<string> {
  const lock = readFileSync(path.join(TOOL_PACKAGE, 'package-lock.json'));
  const dir = path.join(CACHE, `openapi-ts-${createHash('sha256').update(lock).digest('hex').slice(0, 16)}`);
  const bin = path.join(dir, 'node_modules', '.bin', 'openapi-typescript');
  if (existsSync(bin)) return bin;
  const partial = `${dir}.tmp-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(TOOL_PACKAGE, f), path.join(partial, f));
  const r = await runChild('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: partial, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`npm ci of test/support/openapi-ts failed (exit ${r.code}):\n${r.text.slice(-4000)}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return bin;
}

/** openapi-typescript's types for the spec, as text, and what it printed. */
export async function generateTypes(bin: string, outFile: string): Promise<{ text: string; output: string }> {
  const r = await runChild(bin, [OPENAPI_SPEC, '-o', outFile], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`openapi-typescript failed (exit ${r.code}):\n${r.text.slice(-4000)}`);
  return { text: readFileSync(outFile, 'utf8'), output: r.text };
}

/** `tsc --noEmit` (the project's TypeScript) on the client file and the types it imports (test/support/openapi-ts/tsconfig.json); its output. */
export async function compileClient(): Promise<{ code: number; text: string }> {
  const r = await runChild(path.resolve('node_modules/.bin/tsc'), ['-p', path.join(TOOL_PACKAGE, 'tsconfig.json')], { timeoutMs: 120_000 });
  return { code: r.code, text: r.text };
}
