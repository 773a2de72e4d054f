// Debian's Chromium for the browser tests (apt-get install chromium; .ci/run installs it), and its
// firefox-esr for the dashboard's Firefox test. playwright-core drives Chromium, puppeteer-core
// Firefox (over WebDriver BiDi, which stock Firefox speaks; playwright needs a patched Firefox);
// neither downloads a browser of its own. Without it the browser
// tests are skipped, and npm test says so at its start (test/support/prereqs.ts) and in the list.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Page } from 'playwright-core';

/** A browser's executable: `setting` (a path) when set, else the first of Debian's places that exists; null when none does. */
function browserPath(setting: string | undefined, candidates: readonly string[]): string | null {
  if (setting) return existsSync(setting) ? setting : null;
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** The browser to drive: CHROMIUM_PATH when set, else Debian's; null when there is none. */
/** The window sizes the dashboard's browser tests use: a laptop's and a phone's. */
export const LAPTOP: Readonly<{ width: number; height: number }> = { width: 1280, height: 900 };
export const PHONE: Readonly<{ width: number; height: number }> = { width: 390, height: 844 };

export const chromiumPath = (): string | null => browserPath(process.env.CHROMIUM_PATH, ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium']);

export const CHROMIUM_MISSING =
  'Chromium is not installed: the browser tests (dashboard-browser, formats-browser, ingest-browser, query-cors-browser, sql-port-browser) are skipped (install it with: sudo apt-get install chromium, or set CHROMIUM_PATH)';

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

/** Firefox for the dashboard's Firefox test: FIREFOX_PATH when set, else Debian's firefox-esr; null when there is none. */
export const firefoxPath = (): string | null => browserPath(process.env.FIREFOX_PATH, ['/usr/bin/firefox-esr', '/usr/bin/firefox']);

export const FIREFOX_MISSING =
  'Firefox is not installed: the tests in Firefox (dashboard-firefox, and formats-browser\'s unload transports) are skipped (install it with: sudo apt-get install firefox-esr, or set FIREFOX_PATH)';

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

/**
 * A site of another origin than the servers under test (http://localhost:<port>, while they are on
 * 127.0.0.1): `scripts` maps a path to a file served as JavaScript (an SDK's browser bundle from
 * node_modules); every other path is a small HTML page titled "Shop".
 */
export async function serveSite(scripts: Readonly<Record<string, string>>): Promise<{ url: string; close(): Promise<void> }> {
  const site = http.createServer((req, res) => {
    const file = scripts[req.url ?? ''];
    if (file !== undefined) res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Shop</title><h1>Shop</h1>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://localhost:${(site.address() as { port: number }).port}`,
    close: () => new Promise<void>((resolve) => site.close(() => resolve())),
  };
}

/**
 * Chromium (at `executablePath`) with one page open on a site of another origin than the servers
 * under test (serveSite); `close()` ends both.
 */
export async function pageOfAnotherOrigin(executablePath: string): Promise<{ url: string; page: Page; close(): Promise<void> }> {
  // Loaded here: test/support/prereqs.ts reads this file before any browser is wanted.
  const { chromium } = await import('playwright-core');
  const site = await serveSite({});
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  await page.goto(site.url);
  return {
    url: site.url,
    page,
    close: async () => {
      await browser.close();
      await site.close();
    },
  };
}
