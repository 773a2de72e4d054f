// Debian's Chromium for the browser tests (apt-get install chromium; .ci/run installs it), and its
// firefox-esr for the dashboard's Firefox test. playwright-core drives Chromium, puppeteer-core
// Firefox (over WebDriver BiDi, which stock Firefox speaks; playwright needs a patched Firefox);
// neither downloads a browser of its own. Without it the browser
// tests are skipped, and npm test says so at its start (test/support/prereqs.ts) and in the list.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

/** The browser to drive: CHROMIUM_PATH when set, else Debian's; null when there is none. */
export function chromiumPath(): string | null {
  const set = process.env.CHROMIUM_PATH;
  if (set) return existsSync(set) ? set : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const CHROMIUM_MISSING =
  'Chromium is not installed: the browser tests (dashboard-browser, formats-browser) are skipped (install it with: sudo apt-get install chromium, or set CHROMIUM_PATH)';

/**
 * Flags that work on a closed network, as root: without the background-networking ones Chromium
 * keeps trying to reach Google's hosts. playwright-core gives each launch a fresh profile.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const FIREFOX_CANDIDATES = ['/usr/bin/firefox-esr', '/usr/bin/firefox'];

/** Firefox for the dashboard's Firefox test: FIREFOX_PATH when set, else Debian's firefox-esr; null when there is none. */
export function firefoxPath(): string | null {
  const set = process.env.FIREFOX_PATH;
  if (set) return existsSync(set) ? set : null;
  return FIREFOX_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export const FIREFOX_MISSING =
  'Firefox is not installed: the dashboard test in Firefox (dashboard-firefox) is skipped (install it with: sudo apt-get install firefox-esr, or set FIREFOX_PATH)';

/** test-results/<suite>/<test>/: where a test keeps its screenshots and measurements. */
export function outputDir(suite: string, test: string): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
  const dir = path.resolve('test-results', slug(suite), slug(test));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
