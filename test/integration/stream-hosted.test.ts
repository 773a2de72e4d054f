// The stream component hosted by the query API in a thread of its own: once it answers, the
// host's very next /metrics scrape lists its metrics (a Prometheus scrape right after start must
// not miss them), under the host's component label, and stop() ends the thread.
import { afterAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import { loadConfig } from '../../src/config/index.js';
import { hostStream, type HostedStream } from '../../src/stream/index.js';
import { tempDir } from '../support/env.js';
import { streamEnv, until } from './stream-helpers.js';

describe('the hosted stream component', () => {
  const dir = tempDir('trackhouse-stream-hosted-');
  let hosted: HostedStream | undefined;
  afterAll(async () => {
    await hosted?.stop();
    dir.remove();
  });

  it('lists its metrics in the first host scrape after it answers', async () => {
    const config = loadConfig(streamEnv(dir.path));
    const registry = createRegistry('query', false);
    hosted = hostStream({ config, brokers: config.kafka.brokers, log: silentLogger(), registry }, 1_000);
    const h = hosted;
    expect(await registry.metrics()).not.toContain('trackhouse_stream_records_total');
    h.start();
    const body = await until('the stream answers', () =>
      h.answer('volume', '').catch((err: unknown) => {
        if (err instanceof HttpError && err.code === 'stream_unavailable') return undefined;
        throw err;
      }),
    );
    expect(JSON.parse(body)).toHaveProperty('rows');
    const text = await registry.metrics();
    expect(text).toMatch(/^trackhouse_stream_records_total\{topic="events",component="query"\} 0$/m);
    expect(text).toMatch(/^trackhouse_stream_caught_up\{component="query"\} [01]$/m);
  });
});
