// Remembers the local broker `trackhouse start` runs, so a second command (or a broker the
// developer runs with `trackhouse kafka run`) is found and reused instead of clashing on ports.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processRunning } from '../common/process.js';
import { brokerAnswers } from './broker.js';

export interface BrokerState {
  pid: number;
  port: number;
  version: string;
  startedAt: string;
  /**
   * Which command runs it: `trackhouse kafka run` (a broker another command may use while it runs)
   * or `trackhouse start` (one that belongs to that start, and stops once it is gone). Absent in
   * files written before it was recorded: taken as `kafka run`'s.
   */
  owner?: 'kafka run' | 'start';
}

function stateFile(dataDir: string): string {
  return path.join(dataDir, 'kafka', 'local', 'broker.json');
}

export function writeBrokerState(dataDir: string, state: BrokerState): void {
  writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

export function clearBrokerState(dataDir: string, pid: number): void {
  const current = readBrokerState(dataDir);
  if (current?.pid === pid) rmSync(stateFile(dataDir), { force: true });
}

export function readBrokerState(dataDir: string): BrokerState | null {
  const file = stateFile(dataDir);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BrokerState;
  } catch {
    return null;
  }
}

/** The broker recorded in the data dir, if its process runs and it answers Kafka requests. */
export async function findRunningBroker(dataDir: string): Promise<BrokerState | null> {
  const state = readBrokerState(dataDir);
  if (!state || !processRunning(state.pid)) return null;
  return (await brokerAnswers(state.port)) ? state : null;
}
