// For a describe block of browser tests: the pipeline (ingest, sink, query on the run's broker), a
// site of another origin serving SDK bundles, and headless Chromium; set up before the block's
// tests and torn down after them.
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath, serveSite } from '../support/chromium.js';
import { startPipeline, type Pipeline } from './pipeline-support.js';

export interface BrowserPipeline {
  readonly p: Pipeline;
  readonly browser: Browser;
  /** http://localhost:<port>: another origin than the pipeline's 127.0.0.1 servers. */
  readonly siteUrl: string;
}

export function browserPipeline(scripts: Readonly<Record<string, string>>): BrowserPipeline {
  const t = {} as { p: Pipeline; browser: Browser; siteUrl: string };
  let site: Awaited<ReturnType<typeof serveSite>> | undefined;
  beforeAll(async () => {
    t.p = await startPipeline();
    site = await serveSite(scripts);
    t.siteUrl = site.url;
    t.browser = await chromium.launch({ executablePath: chromiumPath()!, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await t.browser?.close();
    await site?.close();
    await t.p?.close();
  });
  return t;
}
