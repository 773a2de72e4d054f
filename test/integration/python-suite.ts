// A suite driving the Python clients (test/support/python-clients.ts): run with the interpreter
// when they are installed, else listed as skipped with the reason and how to install them.
// (Apart from python-clients.ts, which test/support/prereqs.ts loads outside vitest.)
import { describe, it } from 'vitest';
import { PYTHON_CLIENTS_MISSING, pythonClients } from '../support/python-clients.js';

export function describeWithPython(name: string, body: (python: string) => void): void {
  const python = pythonClients();
  if (python === null) describe(name, () => it.skip(PYTHON_CLIENTS_MISSING, () => {}));
  else describe(name, () => body(python));
}
