# ClickHouse's own Python client (clickhouse-connect, the driver under Superset and many notebooks)
# against trackhouse's read-only SQL port, for test/integration/sql-port.test.ts: it connects as a
# BI tool does (any user name, the read key as password), reads the rollup view and an event with
# a bound parameter in its default Native format, and tries a DROP. Prints one JSON object.
import json
import sys

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError

args = json.loads(sys.argv[1])
client = clickhouse_connect.get_client(host=args['host'], port=args['port'], username='metabase', password=args['key'])
rollups = client.query('SELECT toString(day), event, events, users FROM events_daily_by_event_v ORDER BY event')
events = client.query('SELECT event_id, user_id, toUnixTimestamp64Milli(timestamp) FROM events WHERE user_id = {user:String}', parameters={'user': args['user']})
try:
    client.command('DROP TABLE events')
    dropped = 'ran'
except DatabaseError as e:
    dropped = str(e)
print(json.dumps({
    'version': client.server_version,
    'columns': list(rollups.column_names),
    'rollups': [list(r) for r in rollups.result_rows],
    'events': [list(r) for r in events.result_rows],
    'drop': dropped,
}))
