// The engine the BI ports' tests read: chDB in a folder of the test's, with the project's
// migrations and a few events of one day, inserted as the sink would store them; and the first
// packet of a native-protocol client, for the tests that speak it byte by byte.
import { createLogger } from '../../src/common/log.js';
import { loadConfig } from '../../src/config/index.js';
import { stringBytes, varuintBytes } from '../../src/warehouse/native.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';

/** An event as [event_id, event, user_id, hour of `day`, category]; type track, source web. */
export type SeedEvent = [string, string, string, number, string];

export async function chdbWithEvents(dir: string, day: string, events: readonly SeedEvent[]): Promise<ClickHouseHandle> {
  const ch = await openClickHouse(loadConfig({}).clickhouse, dir);
  await migrate(ch.client, createLogger('silent'));
  const at = (hour: number, ms: number) => `${day} ${String(hour).padStart(2, '0')}:00:00.${String(ms).padStart(3, '0')}`;
  await ch.client.command({
    query:
      'INSERT INTO events (event_id, type, event, user_id, anonymous_id, timestamp, received_at, source, category, properties) VALUES ' +
      events.map(([id, event, user, hour, category]) => `('${id}', 'track', '${event}', '${user}', '', '${at(hour, 0)}', '${at(hour, 100)}', 'web', '${category}', '{}')`).join(', '),
  });
  return ch;
}

/** The Hello a native-protocol client of revision 54460 sends first, with `password` (a read key). */
export function helloPacket(password: string, database = 'default'): Buffer {
  return Buffer.concat([varuintBytes(0), stringBytes('trackhouse-test'), varuintBytes(1), varuintBytes(1), varuintBytes(54460), stringBytes(database), stringBytes('bi'), stringBytes(password)]);
}
