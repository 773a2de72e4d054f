// The Python clients the integration tests drive (Confluent's confluent-kafka with its schema
// registry and Avro extras; ClickHouse's clickhouse-connect; Segment's and PostHog's SDKs), pinned in python-clients.requirements.txt.
// .ci/run installs them into a virtualenv under .trackhouse/; PYTHON_CLIENTS names another
// interpreter that has them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runChild } from './child.js';

export const PYTHON_CLIENTS_VENV = path.resolve('.trackhouse/python-clients');
/** The pinned clients, read by pip in .ci/run and in the install command below. */
export const PYTHON_CLIENTS_REQUIREMENTS = 'test/support/python-clients.requirements.txt';
/** What the probe imports: one module of each pinned client. */
const PROBE = 'import confluent_kafka.schema_registry.avro, fastavro, clickhouse_connect, clickhouse_driver, lz4, zstd, clickhouse_cityhash, segment.analytics, rudderstack.analytics, posthog, mixpanel, amplitude, snowplow_tracker';

/** The interpreter to run, when it imports every pinned client; else null. */
export function pythonClients(): string | null {
  return importing(PROBE);
}

/** The interpreter when it has what OpenAPI Generator's python client needs (pydantic, urllib3, dateutil); else null. */
export function generatedClientPython(): string | null {
  return importing('import pydantic, urllib3, dateutil, typing_extensions');
}

export const GENERATED_CLIENT_PYTHON_MISSING =
  `pydantic is not installed: the python client generated from docs/openapi.yaml (openapi-clients) is not run ` +
  `(install it with the Python clients: .trackhouse/python-clients/bin/pip install -r ${PYTHON_CLIENTS_REQUIREMENTS})`;

/** The interpreter (PYTHON_CLIENTS, else the venv's) when it runs `imports`; else null. */
function importing(imports: string): string | null {
  const python = process.env.PYTHON_CLIENTS ?? path.join(PYTHON_CLIENTS_VENV, 'bin', 'python');
  if (!existsSync(python)) return null;
  const probe = spawnSync(python, ['-c', imports], { stdio: 'ignore', timeout: 30_000 });
  return probe.status === 0 ? python : null;
}

/** The pinned schemathesis's command, beside the interpreter that imports it; else null. */
export function schemathesisCli(): string | null {
  const python = importing('import schemathesis');
  const cli = python === null ? null : path.join(path.dirname(python), 'schemathesis');
  return cli !== null && existsSync(cli) ? cli : null;
}

export const SCHEMATHESIS_MISSING =
  `schemathesis is not installed: test/integration/openapi-schemathesis.test.ts is skipped ` +
  `(install it with the Python clients: .trackhouse/python-clients/bin/pip install -r ${PYTHON_CLIENTS_REQUIREMENTS})`;

export const PYTHON_CLIENTS_MISSING =
  `the Python clients (Confluent's, ClickHouse's, and Segment's, RudderStack's, PostHog's, Mixpanel's, Amplitude's and Snowplow's SDKs) are not installed: the tests driving them (schema-registry-python, ingest-python-sdks, sql-port) are skipped ` +
  `(install them with: python3 -m venv .trackhouse/python-clients && .trackhouse/python-clients/bin/pip install -r ${PYTHON_CLIENTS_REQUIREMENTS}, or set PYTHON_CLIENTS)`;

/**
 * Runs test/support/<script> with `args` as its one JSON argument (JSON text as it is: numbers
 * JavaScript cannot hold); the JSON it prints.
 */
export async function runPythonScript<T>(python: string, script: string, args: object | string, timeoutMs = 90_000): Promise<T> {
  const json = typeof args === 'string' ? args : JSON.stringify(args);
  const r = await runChild(python, [path.resolve('test/support', script), json], { timeoutMs });
  if (r.code !== 0) throw new Error(`${script} exited with ${r.code}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as T;
}
