// Confluent's Python client (confluent-kafka with its schema registry and Avro extras), for the test
// that reads the events topic through the query port's registry with it. .ci/run installs it into
// a virtualenv under .trackhouse/; CONFLUENT_PYTHON names another interpreter that has it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const CONFLUENT_PYTHON_VENV = path.resolve('.trackhouse/python-confluent');
/** The pinned client, read by pip in .ci/run and in the install command below. */
export const CONFLUENT_PYTHON_REQUIREMENTS = 'test/support/confluent-python.requirements.txt';

/** The interpreter to run, when it imports Confluent's Avro serializers; else null. */
export function confluentPython(): string | null {
  const python = process.env.CONFLUENT_PYTHON ?? path.join(CONFLUENT_PYTHON_VENV, 'bin', 'python');
  if (!existsSync(python)) return null;
  const probe = spawnSync(python, ['-c', 'import confluent_kafka.schema_registry.avro, fastavro'], { stdio: 'ignore', timeout: 30_000 });
  return probe.status === 0 ? python : null;
}

export const CONFLUENT_PYTHON_MISSING =
  `Confluent's Python client is not installed: the test reading the topic with it (schema-registry-python) is skipped ` +
  `(install it with: python3 -m venv .trackhouse/python-confluent && .trackhouse/python-confluent/bin/pip install -r ${CONFLUENT_PYTHON_REQUIREMENTS}, or set CONFLUENT_PYTHON)`;
