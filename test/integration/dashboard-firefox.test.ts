// The dashboard in Firefox (Debian's firefox-esr, headless, driven by puppeteer-core over WebDriver
// BiDi) against the all-in-one as a user starts it: the page paints before any key (first paint
// recorded), a wrong key says so, events sent to the ingest are counted, a user's events are listed
// and paged, their properties' integers past 2^53 shown digit for digit, and a phone-sized window
// does not scroll sideways, and axe-core finds no serious or critical violation. The Chromium test
// (dashboard-browser.test.ts) covers the same and more; this one proves the page is not
// Chromium-only. Each test keeps a screenshot under test-results/dashboard-firefox/<test>/.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendBatch, startAllInOne, userEventsText, withinOneUtcDay, WIDE_PROPERTIES, type AllInOne } from '../support/allinone.js';
import { axeStates, violationLines } from '../support/axe.js';
import { FIREFOX_MISSING, firefoxPath, LAPTOP, outputDir, PHONE, writeJson } from '../support/chromium.js';

const SUITE = 'dashboard-firefox';
const executablePath = firefoxPath();

if (executablePath === null) {
  describe('dashboard in Firefox', () => {
    it.skip(FIREFOX_MISSING, () => {});
  });
}

describe.runIf(executablePath !== null)('dashboard in Firefox, against trackhouse start', () => {
  const run = randomBytes(3).toString('hex');
  const eventName = `Firefox Check ${run}`;
  const category = `ff-${run}`;
  const userId = `ff-user-${run}`;
  let aio: AllInOne;
  let browser: Browser;
  let dashboardUrl = '';

  beforeAll(async () => {
    // Its tests read today's top events after sending them: the suite runs within one UTC day.
    await withinOneUtcDay(150_000);
    aio = await startAllInOne('dashboard-ff');
    dashboardUrl = `${aio.queryUrl}/dashboard`;
    browser = await puppeteer.launch({ browser: 'firefox', executablePath: executablePath!, headless: true });
  }, 360_000);

  afterAll(async () => {
    await browser?.close();
    await aio?.stop();
  });

  /** A fresh window (its own sessionStorage), its page errors collected. */
  async function open(viewport = LAPTOP): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.setViewport(viewport);
    await page.goto(dashboardUrl, { waitUntil: 'load' });
    return { page, errors, close: () => context.close() };
  }

  const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '').catch(() => '');
  const count = (page: Page, selector: string) => page.$$eval(selector, (es) => es.length);

  async function enterKey(page: Page, key: string): Promise<void> {
    await page.type('#key-input', key);
    await page.click('#key-form button[type=submit]');
  }

  async function screenshot(page: Page, test: string, name = 'screenshot'): Promise<void> {
    await page.screenshot({ path: path.join(outputDir(SUITE, test), `${name}.png`) as `${string}.png`, fullPage: true });
  }

  it('paints the page before any key is entered (first paint recorded)', async () => {
    const test = 'first paint';
    const { page, errors, close } = await open();
    await page.waitForSelector('#key-input', { visible: true });
    await expect.poll(() => text(page, '#banner')).toContain('Enter the read key');
    // Evaluated as text: this file is compiled without the DOM's types.
    const timing = (await page.evaluate(`new Promise((resolve) => {
      new PerformanceObserver((list, observer) => {
        const fcp = list.getEntriesByName('first-contentful-paint')[0];
        if (fcp) { observer.disconnect(); resolve({ firstContentfulPaint: Math.round(fcp.startTime), load: Math.round(performance.getEntriesByType('navigation')[0].loadEventEnd) }); }
      }).observe({ type: 'paint', buffered: true });
    })`)) as { firstContentfulPaint: number; load: number };
    writeJson(path.join(outputDir(SUITE, test), 'timing.json'), { url: dashboardUrl, browser: await browser.version(), ...timing, loadAverage: os.loadavg() });
    process.stdout.write(`dashboard first contentful paint in ${await browser.version()}: ${timing.firstContentfulPaint} ms (load ${timing.load} ms)\n`);
    expect(timing.firstContentfulPaint).toBeGreaterThan(0);
    await screenshot(page, test);
    expect(errors).toEqual([]);
    await close();
  });

  it('says the key was refused when the read key is wrong', async () => {
    const { page, errors, close } = await open();
    await enterKey(page, 'not-the-read-key');
    await expect.poll(() => text(page, '#banner'), { timeout: 20_000 }).toContain('The read key was refused (401');
    expect(await page.evaluate("sessionStorage.getItem('trackhouse.readKey')")).toBeNull();
    await screenshot(page, 'wrong key');
    expect(errors).toEqual([]);
    await close();
  });

  it("counts events sent to the ingest and shows one user's events, paged", async () => {
    const now = Date.now();
    await sendBatch(aio.ingestUrl, [
      ...Array.from({ length: 22 }, (_, i) => ({ type: 'track', userId, event: eventName, properties: { category, n: i }, timestamp: new Date(now - (25 - i) * 1000).toISOString(), messageId: `${run}-t-${i}` })),
      ...Array.from({ length: 3 }, (_, i) => ({ type: 'page', userId, name: 'Pricing', timestamp: new Date(now - (3 - i) * 1000).toISOString(), messageId: `${run}-p-${i}` })),
    ]);
    const { page, errors, close } = await open();
    await enterKey(page, 'dev-read-key');
    const topValue = () => page.$$eval('#top [data-events] li', (lis, name) => lis.find((li) => li.textContent?.includes(name))?.querySelector('.value')?.textContent ?? null, eventName);
    await expect.poll(topValue, { timeout: 60_000 }).toBe('22');

    await page.type('#user input[name=user]', userId);
    await page.select('#user select[name=limit]', '20');
    await page.click('#user button[type=submit]');
    await expect.poll(() => count(page, '#user table tbody tr'), { timeout: 20_000 }).toBe(20);
    await page.click('#user [data-more]');
    await expect.poll(() => count(page, '#user table tbody tr'), { timeout: 20_000 }).toBe(25);
    // Newest first: the three page calls were sent last.
    expect(await page.$eval('#user table tbody tr td:nth-child(2)', (e) => e.textContent)).toBe('page');
    await screenshot(page, 'events counted');
    expect(errors).toEqual([]);
    await close();
  });

  it("shows integers past 2^53 in a user's event properties digit for digit", async () => {
    const wideUser = `wide-user-${run}`;
    await sendBatch(aio.ingestUrl, `[{"type":"track","userId":"${wideUser}","event":"Order Placed","messageId":"${run}-wide","properties":${WIDE_PROPERTIES.sent}}]`);
    await expect.poll(() => userEventsText(aio.queryUrl, wideUser), { timeout: 30_000 }).toContain(`"properties":${WIDE_PROPERTIES.sent}`);
    const { page, errors, close } = await open();
    expect(await page.evaluate('typeof JSON.rawJSON')).toBe('function');
    await enterKey(page, 'dev-read-key');
    await page.type('#user input[name=user]', wideUser);
    // Enter submits the form: a click right after the key can miss a button that charts still move.
    await page.keyboard.press('Enter');
    await expect.poll(() => count(page, '#user table tbody tr'), { timeout: 20_000 }).toBe(1);
    expect(await text(page, '#user table tbody tr td.json')).toBe(WIDE_PROPERTIES.sent);
    await screenshot(page, 'wide integers');
    expect(errors).toEqual([]);
    await close();
  });

  it('fits a phone screen: nothing makes the page scroll sideways', async () => {
    const { page, errors, close } = await open(PHONE);
    await enterKey(page, 'dev-read-key');
    await page.type('#user input[name=user]', userId);
    // Enter, as above: the button, far down a phone's page, may still be moving as panels fill.
    await page.keyboard.press('Enter');
    await expect.poll(() => count(page, '#user table tbody tr'), { timeout: 30_000 }).toBeGreaterThan(0);
    const widths = (await page.evaluate('({ page: document.documentElement.scrollWidth, screen: window.innerWidth })')) as { page: number; screen: number };
    expect(widths.page).toBeLessThanOrEqual(widths.screen);
    await screenshot(page, 'phone');
    expect(errors).toEqual([]);
    await close();
  });

  // axe-core in Firefox too (the Chromium test also checks the 503 and "no answer" states, and dark).
  for (const [screen, viewport] of [['laptop', LAPTOP], ['phone', PHONE]] as const) {
    it(`has no serious or critical axe-core violation: the key prompt, a refused key, the data, a user's timeline (${screen})`, async () => {
      const test = `axe ${screen}`;
      const { page, errors, close } = await open(viewport);
      const { found, check } = axeStates((script) => page.evaluate(script), (name) => screenshot(page, test, name));
      await expect.poll(() => text(page, '#banner')).toContain('Enter the read key');
      await check('key prompt');
      await enterKey(page, 'not-the-read-key');
      await expect.poll(() => text(page, '#banner'), { timeout: 20_000 }).toContain('The read key was refused (401');
      await check('401');
      await enterKey(page, 'dev-read-key');
      await expect.poll(() => count(page, '#top [data-events] li'), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => count(page, '#rollups table tbody tr'), { timeout: 30_000 }).toBeGreaterThan(0);
      await check('data');
      await page.type('#user input[name=user]', userId);
      await page.keyboard.press('Enter');
      await expect.poll(() => count(page, '#user table tbody tr'), { timeout: 20_000 }).toBeGreaterThan(0);
      await check('user timeline');
      writeJson(path.join(outputDir(SUITE, test), 'axe.json'), found);
      const serious = violationLines(found, true);
      expect(serious, `serious or critical axe-core violations (Firefox, ${screen}):\n${serious.join('\n')}`).toEqual([]);
      expect(errors).toEqual([]);
      await close();
    });
  }
});
