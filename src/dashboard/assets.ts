// The dashboard's files, loaded once when the query server starts and served from memory: the
// page's compiled ES modules and stylesheet (dist/dashboard/web/, built by `npm run build` from
// src/dashboard/web/) and uPlot from its npm package (a runtime dependency: no CDN, the page works
// on a closed network).
//
// Every file is served under /dashboard/assets/<build>/, where <build> is a hash of all of them:
// any change to any file is a new URL, so those answers can be cached for a year (immutable),
// while the page itself is revalidated on each load (no-cache + ETag).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `npm run build` writes the page's files (two levels up from src/dashboard and dist/dashboard alike). */
export const WEB_DIR = fileURLToPath(new URL('../../dist/dashboard/web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
};

export interface Asset {
  readonly body: Buffer;
  /** The body gzipped, when that saves bytes; null otherwise. */
  readonly gzip: Buffer | null;
  readonly type: string;
  readonly etag: string;
}

export interface Assets {
  /** Hash of every file: the path segment that makes asset URLs immutable. */
  readonly buildId: string;
  /** name (relative path under the build, e.g. "main.js", "panels/live.js") -> file. */
  readonly files: ReadonlyMap<string, Asset>;
  /** Set when the page's files are missing (not built): the page says so instead. */
  readonly problem: string | null;
}

export function asset(body: Buffer, type: string): Asset {
  const gz = body.byteLength > 512 ? gzipSync(body, { level: 9 }) : null;
  return {
    body,
    gzip: gz !== null && gz.byteLength < body.byteLength ? gz : null,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

export function loadAssets(webDir: string = WEB_DIR): Assets {
  const files = new Map<string, Asset>();
  const require = createRequire(import.meta.url);
  // The minified IIFE build defines the global `uPlot`; loaded with `defer` before the page's modules.
  files.set('uplot.js', asset(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')), TYPES['.js']!));
  files.set('uplot.css', asset(readFileSync(require.resolve('uplot/dist/uPlot.min.css')), TYPES['.css']!));
  let problem: string | null = null;
  if (existsSync(path.join(webDir, 'main.js'))) {
    for (const name of walk(webDir)) {
      const type = TYPES[path.extname(name)];
      if (type === undefined || name.endsWith('.test.js')) continue;
      files.set(name, asset(readFileSync(path.join(webDir, name)), type));
    }
  } else {
    problem = `the dashboard's files are not built (${webDir}main.js is missing): run npm run build`;
  }
  const hash = createHash('sha256');
  for (const [name, a] of [...files].sort(([x], [y]) => (x < y ? -1 : 1))) hash.update(name).update('\0').update(a.etag);
  return { buildId: hash.digest('hex').slice(0, 12), files, problem };
}

/** Relative paths (with "/") of every file under `dir`. */
function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}
