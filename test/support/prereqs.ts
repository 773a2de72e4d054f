// `npm test`'s first step: stops at once, saying what to install, when this machine cannot run the
// tests. Besides Node 20, the integration tests start a real Kafka broker (test/support/kafka-global.ts),
// which needs Java 17+ and, until the broker's jars are cached under .trackhouse/, Maven to fetch
// them. The checks are the CLI's own (src/cli/preflight.ts, src/localkafka/prereq.ts). The Java
// SDKs' tests (ingest-jvm-go-sdks, ingest-kotlin-sdk) also need javac, and Maven until their jars are cached
// (test/support/sdk-clients.ts); without them they are skipped, saying so, as a Java runtime is
// enough for the broker.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { checkNode } from '../../src/cli/preflight.js';
import { errorMessage } from '../../src/common/errors.js';
import { LOCAL_KAFKA_VERSION } from '../../src/config/index.js';
import { checkJava, checkMaven, jarsInstalled } from '../../src/localkafka/index.js';
import { CHROMIUM_MISSING, chromiumPath, FIREFOX_MISSING, firefoxPath } from './chromium.js';
import { openapiGeneratorProblem } from './openapi-clients.js';
import { GENERATED_CLIENT_PYTHON_MISSING, generatedClientPython, PYTHON_CLIENTS_MISSING, SCHEMATHESIS_MISSING, pythonClients, schemathesisCli } from './python-clients.js';
import { CLICKHOUSE_GO_PROBE, GO_SDK_PROBE, goProblem, JDBC_PROBE, javaProblem, KOTLIN_SDK_PROBE, METRICS_GO_PROBE, SDK_PROBE } from './sdk-clients.js';

/** The jar cache kafka-global.ts gives the test broker. */
const JAR_CACHE = path.resolve('.trackhouse');

function problemsHere(): string[] {
  const problems: string[] = [];
  const attempt = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      problems.push(errorMessage(err));
    }
  };
  attempt(() => checkNode());
  attempt(() => checkJava({ offerCluster: false }));
  if (!jarsInstalled(JAR_CACHE, LOCAL_KAFKA_VERSION)) attempt(() => checkMaven({ offerCluster: false }));
  return problems;
}

const problems = problemsHere();
if (problems.length > 0) {
  process.stderr.write(
    'npm test cannot run here: the integration tests start a real Kafka broker on this machine.\n' +
      `${problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}

// Not a reason to stop: only the browser tests need it (the dashboard's and the vendors' browser
// SDKs'); without it they are skipped, said here once so a contributor sees it before the run.
if (chromiumPath() === null) process.stderr.write(`npm test: ${CHROMIUM_MISSING}.\n`);
if (firefoxPath() === null) process.stderr.write(`npm test: ${FIREFOX_MISSING}.\n`);
if (pythonClients() === null) process.stderr.write(`npm test: ${PYTHON_CLIENTS_MISSING}.\n`);
else if (schemathesisCli() === null) process.stderr.write(`npm test: ${SCHEMATHESIS_MISSING}.\n`);
else if (generatedClientPython() === null) process.stderr.write(`npm test: ${GENERATED_CLIENT_PYTHON_MISSING}.\n`);
const generatorProblem = openapiGeneratorProblem();
if (generatorProblem !== null) process.stderr.write(`npm test: ${generatorProblem}.\n`);
for (const program of [SDK_PROBE, KOTLIN_SDK_PROBE, JDBC_PROBE]) {
  const problem = javaProblem(program);
  if (problem !== null) process.stderr.write(`npm test: ${problem}.\n`);
}
for (const program of [GO_SDK_PROBE, CLICKHOUSE_GO_PROBE, METRICS_GO_PROBE]) {
  const problem = goProblem(program);
  if (problem !== null) process.stderr.write(`npm test: ${problem}.\n`);
}
// The same for the TLS tests, which make their certificates with the openssl command.
if (spawnSync('openssl', ['version']).status !== 0) {
  process.stderr.write('npm test: the TLS tests will be SKIPPED: the openssl command is missing (apt-get install openssl).\n');
}
