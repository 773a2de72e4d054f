# The Python clickhouse-driver (ClickHouse's native TCP protocol, under Redash, Airflow's
# ClickHouse hooks and many scripts) against trackhouse's read-only native SQL port, for
# test/integration/sql-port.test.ts: with each compression it reads the rollup view, an event by
# a server-side bound parameter, the header of an empty result, and tries a DROP. Prints one
# JSON object.
import json
import sys

from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

args = json.loads(sys.argv[1])
out = {}
for compression in [False, 'lz4', 'zstd']:
    client = Client(args['host'], port=args['port'], user='redash', password=args['key'], database='default',
                    compression=compression, settings={'server_side_params': True})
    rollups = client.execute('SELECT toString(day), event, events, users FROM events_daily_by_event_v ORDER BY event')
    server = '%s %s' % (client.connection.server_info.name, client.connection.server_info.revision)
    events = client.execute('SELECT event_id, user_id, {odd:String} FROM events WHERE user_id = {user:String}',
                            {'user': args['user'], 'odd': "it's a\ttab \\ and a quote"})
    empty = client.execute('SELECT event, users FROM events_daily_by_event_v WHERE 0', with_column_types=True)
    try:
        client.execute('DROP TABLE events')
        dropped = 'ran'
    except ServerException as e:
        dropped = 'code %d: %s' % (e.code, e.message)
    out[str(compression)] = {
        'server': server,
        'rollups': [list(r) for r in rollups],
        'events': [list(r) for r in events],
        'empty': [list(c) for c in empty[1]],
        'drop': dropped,
    }
    client.disconnect()
print(json.dumps(out))
