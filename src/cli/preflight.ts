// Fails early, with a clear message, on a Node.js the project cannot run on. The range is
// package.json's "engines" (which .npmrc's engine-strict enforces for npm ci / npm install).
import { PrerequisiteError } from '../common/errors.js';

export const NODE_RANGE = { major: 20, minMinor: 10 } as const;

export function checkNode(version: string = process.versions.node): void {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  if (major !== NODE_RANGE.major || !(minor >= NODE_RANGE.minMinor)) {
    throw new PrerequisiteError(
      `trackhouse needs Node.js ${NODE_RANGE.major}.${NODE_RANGE.minMinor} or a later ${NODE_RANGE.major}.x (its uWebSockets.js build ships a ` +
        `native binary for Node 20 only); this is Node ${version}. Install Node 20, for example with nvm: nvm install 20 && nvm use 20`,
    );
  }
}
