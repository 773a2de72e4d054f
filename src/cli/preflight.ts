// Fails early, with a clear message, on a Node.js the project cannot run on. The range is
// package.json's "engines" (which .npmrc's engine-strict enforces for npm ci / npm install): the
// Node lines with a uWebSockets.js build (src/common/uws.ts, which then also checks glibc).
import { PrerequisiteError } from '../common/errors.js';

/** Major -> lowest minor taken. */
export const NODE_RANGE: Readonly<Record<number, number>> = { 20: 10, 22: 0, 24: 0 };

export function checkNode(version: string = process.versions.node): void {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  const minMinor = NODE_RANGE[major];
  if (minMinor === undefined || !(minor >= minMinor)) {
    throw new PrerequisiteError(
      `trackhouse runs on Node.js 22 or 24 (and 20.10 or a later 20.x, past its end of life): the Node lines with a uWebSockets.js ` +
        `build; this is Node ${version}. Install Node 24, for example with nvm: nvm install 24 && nvm use 24`,
    );
  }
}
