// trackhouse's own version, package.json's, read once: `trackhouse --version`, the
// trackhouse_build_info metric, the start banner.
import { readFileSync } from 'node:fs';

/** src/common/ (tsx) and dist/common/ (built) are both two folders below the package root. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
