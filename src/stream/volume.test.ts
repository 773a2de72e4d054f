// Live volume on a real store (lmdb in a temp folder): what an event's name does to its keys.
import { describe, expect, it } from 'vitest';
import { tempStreamStores } from '../../test/support/stream-store.js';
import { keyPart } from './store.js';
import { Volume, type VolumeQuery } from './volume.js';

const MINUTE = Date.UTC(2026, 11, 5, 12, 0);
const tempStore = tempStreamStores('trackhouse-volume-');

/** Counts one track per name in the same minute and commits it, as a processed round does. */
async function counted(names: string[]): Promise<Volume> {
  const store = tempStore();
  const volume = new Volume(store.dbs, { sumProperties: [], latenessMs: 0, retentionMs: { minute: 1e12, hour: 1e12, day: 1e12 } });
  names.forEach((name, user) => volume.add(MINUTE, 'web', 'track', name, user, null, false));
  volume.fold();
  await store.dbs.root.transaction(() => volume.write());
  return volume;
}

const byEvent = (event: string | null): VolumeQuery => ({ by: 'event', window: 'minute', from: MINUTE, to: MINUTE + 60_000, source: null, event, type: null });

describe('live volume by event name', () => {
  // schemathesis sent spec-valid names (up to 8192 characters): lmdb refused the key ("String does
  // not fit in target buffer"), which crashed the stream component on every restart.
  it('counts events whose names are too long for an lmdb key, each apart, found by their full name', async () => {
    const long = 'é'.repeat(3000);
    const other = `${'é'.repeat(2999)}x`;
    const volume = await counted([long, other, long, 'short']);
    const rows = volume.query(byEvent(null)).map((r) => [r.key, r.events]).sort();
    expect(rows).toEqual([[keyPart(long), 2], [keyPart(other), 1], ['short', 1]].sort());
    expect(volume.query(byEvent(long)).map((r) => r.events)).toEqual([2]);
  });

  it('keeps a name that fits as it is, and shortens a longer one to its start, an ellipsis and a hash', () => {
    expect(keyPart('a'.repeat(1024))).toBe('a'.repeat(1024));
    const part = keyPart(`${'a'.repeat(255)}😀${'b'.repeat(2000)}`);
    expect(part).toMatch(/^a{255}…[0-9a-f]{16}$/);
    expect(Buffer.byteLength(keyPart('😀'.repeat(4096)))).toBeLessThan(1024);
  });
});
