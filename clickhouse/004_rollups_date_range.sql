-- The daily rollups count only events whose day a ClickHouse `Date` holds: timestamps in
-- [1970-01-01 00:00:00, 2149-06-07 00:00:00) UTC. `events` stores 1900-01-01 to 2299-12-31, and
-- toDate() of a time outside Date's range wraps or clamps: 1900-01-01 was counted on 2079-06-07,
-- 2299-12-31 on 2120-07-26, 1969-12-31T23:59:59.999Z and 2149-06-07T00:00:00Z on 1970-01-01.
-- Such events stay in `events` (and the per-user API and view); no rollup counts them.
-- The range's SQL text is ROLLUP_TIME_SQL in src/schema/row.ts (a unit test keeps them equal),
-- which the erasure's day rebuild (src/regulations/store.ts) uses too.
--
-- Every statement is idempotent, so an interrupted run is finished by the next:
-- 1. MODIFY QUERY swaps each view's SELECT in place: no moment without a view, so a sink
--    inserting meanwhile (a split deployment) loses no rollup rows.
-- 2. The days that out-of-range events were wrongly counted on (toDate of those timestamps) are
--    deleted from each rollup (a mutation, run synchronously) and inserted again from `events`,
--    in range only. Run again, it deletes and inserts the same rows again. The insert is not
--    deduplicated: a block equal to one inserted before must not be dropped. Rows a sink inserts
--    for one of those days between the delete and the insert would be counted twice there. The
--    days may span any number of months (partitions): a server refuses more than 100 per insert
--    by default (amended after first release; src/warehouse/migrate.ts AMENDED).

ALTER TABLE events_daily_by_event_mv MODIFY QUERY
SELECT toDate(timestamp) AS day, source, type, event, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
GROUP BY day, source, type, event;

ALTER TABLE events_daily_by_category_mv MODIFY QUERY
SELECT toDate(timestamp) AS day, source, category, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE category != '' AND timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
GROUP BY day, source, category;

ALTER TABLE events_daily_by_group_mv MODIFY QUERY
SELECT toDate(timestamp) AS day, source, group_id, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE group_id != '' AND timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
GROUP BY day, source, group_id;

ALTER TABLE events_daily_by_event DELETE WHERE day IN (
  SELECT DISTINCT toDate(timestamp) FROM events
  WHERE NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
) SETTINGS mutations_sync = 2;

INSERT INTO events_daily_by_event SETTINGS insert_deduplicate = 0, insert_deduplication_token = '', max_partitions_per_insert_block = 0
SELECT toDate(timestamp) AS day, source, type, event, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
  AND toDate(timestamp) IN (
    SELECT DISTINCT toDate(timestamp) FROM events
    WHERE NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
  )
GROUP BY day, source, type, event;

ALTER TABLE events_daily_by_category DELETE WHERE day IN (
  SELECT DISTINCT toDate(timestamp) FROM events
  WHERE category != '' AND NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
) SETTINGS mutations_sync = 2;

INSERT INTO events_daily_by_category SETTINGS insert_deduplicate = 0, insert_deduplication_token = '', max_partitions_per_insert_block = 0
SELECT toDate(timestamp) AS day, source, category, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE category != '' AND timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
  AND toDate(timestamp) IN (
    SELECT DISTINCT toDate(timestamp) FROM events
    WHERE category != '' AND NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
  )
GROUP BY day, source, category;

ALTER TABLE events_daily_by_group DELETE WHERE day IN (
  SELECT DISTINCT toDate(timestamp) FROM events
  WHERE group_id != '' AND NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
) SETTINGS mutations_sync = 2;

INSERT INTO events_daily_by_group SETTINGS insert_deduplicate = 0, insert_deduplication_token = '', max_partitions_per_insert_block = 0
SELECT toDate(timestamp) AS day, source, group_id, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE group_id != '' AND timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC')
  AND toDate(timestamp) IN (
    SELECT DISTINCT toDate(timestamp) FROM events
    WHERE group_id != '' AND NOT (timestamp >= toDateTime64('1970-01-01 00:00:00', 3, 'UTC') AND timestamp < toDateTime64('2149-06-07 00:00:00', 3, 'UTC'))
  )
GROUP BY day, source, group_id;
