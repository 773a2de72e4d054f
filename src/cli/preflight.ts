// Fails early, with a clear message, on a Node.js the project cannot run on.
import { PrerequisiteError } from '../common/errors.js';

export function checkNode(version: string = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (major !== 20) {
    throw new PrerequisiteError(
      `trackhouse needs Node.js 20 (its uWebSockets.js build ships a native binary for Node 20 only); ` +
        `this is Node ${version}. Install Node 20, for example with nvm: nvm install 20 && nvm use 20`,
    );
  }
}
