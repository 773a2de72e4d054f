// Jitsu's browser script (`p.js`, from its @jitsu/js package, unchanged), served at /p.js as
// Jitsu's own ingest serves it. A site's `<script async src="https://<ingest>/p.js"
// data-write-key="key:secret">` then posts its events to /api/s/<call> on the script's own
// origin, so switching from Jitsu is changing that host.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Browsers may keep it an hour (Jitsu's own answer is cacheable too); a new version shows within that. */
export const JITSU_SCRIPT_CACHE = 'public, max-age=3600';

/** The script's bytes, read from the installed package. */
export function readJitsuScript(): Buffer {
  return readFileSync(createRequire(import.meta.url).resolve('@jitsu/js/dist/web/p.js.txt'));
}
