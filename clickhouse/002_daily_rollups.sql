-- Daily rollups, kept by materialized views as rows arrive in `events` (days are UTC).
-- events: number of events; users: distinct users (user_id, else anonymous_id), as an exact
-- aggregate state so days and sources merge correctly. BI tools can read the *_v views, which
-- finish the aggregation, or the tables with sum(events) / uniqExactMerge(users).
-- The sink inserts each event once; the deduplication window lets a retried insert of the same
-- block be dropped here too (with deduplicate_blocks_in_dependent_materialized_views = 1).

CREATE TABLE IF NOT EXISTS events_daily_by_event
(
    day    Date,
    source LowCardinality(String),
    type   LowCardinality(String),
    event  String,
    events SimpleAggregateFunction(sum, UInt64),
    users  AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, type, event)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_daily_by_event_mv TO events_daily_by_event AS
SELECT toDate(timestamp) AS day, source, type, event, count() AS events, uniqExactState(user_key) AS users
FROM events
GROUP BY day, source, type, event;

CREATE TABLE IF NOT EXISTS events_daily_by_category
(
    day      Date,
    source   LowCardinality(String),
    category LowCardinality(String),
    events   SimpleAggregateFunction(sum, UInt64),
    users    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, category)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_daily_by_category_mv TO events_daily_by_category AS
SELECT toDate(timestamp) AS day, source, category, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE category != ''
GROUP BY day, source, category;

CREATE TABLE IF NOT EXISTS events_daily_by_group
(
    day      Date,
    source   LowCardinality(String),
    group_id String,
    events   SimpleAggregateFunction(sum, UInt64),
    users    AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, source, group_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_daily_by_group_mv TO events_daily_by_group AS
SELECT toDate(timestamp) AS day, source, group_id, count() AS events, uniqExactState(user_key) AS users
FROM events
WHERE group_id != ''
GROUP BY day, source, group_id;

CREATE VIEW IF NOT EXISTS events_daily_by_event_v AS
SELECT day, source, type, event, sum(events) AS events, uniqExactMerge(users) AS users
FROM events_daily_by_event
GROUP BY day, source, type, event;

CREATE VIEW IF NOT EXISTS events_daily_by_category_v AS
SELECT day, source, category, sum(events) AS events, uniqExactMerge(users) AS users
FROM events_daily_by_category
GROUP BY day, source, category;

CREATE VIEW IF NOT EXISTS events_daily_by_group_v AS
SELECT day, source, group_id, sum(events) AS events, uniqExactMerge(users) AS users
FROM events_daily_by_group
GROUP BY day, source, group_id;
