-- One row per event, as the sink writes it. Ordered for per-user reads (newest first by reading
-- the primary key backwards); partitioned by month of the event time.
-- user_key is the Kafka key: user_id, or anonymous_id for events of a user not yet identified.
-- kafka_partition / kafka_offset record where the row came from, so the sink can resume and
-- replay without inserting a record twice.
CREATE TABLE IF NOT EXISTS events
(
    event_id        String,
    type            LowCardinality(String),
    event           String,
    user_id         String,
    anonymous_id    String,
    user_key        String MATERIALIZED if(user_id != '', user_id, anonymous_id),
    timestamp       DateTime64(3, 'UTC'),
    sent_at         Nullable(DateTime64(3, 'UTC')),
    received_at     DateTime64(3, 'UTC'),
    source          LowCardinality(String),
    category        LowCardinality(String),
    group_id        String,
    name            String,
    previous_id     String,
    properties      String CODEC(ZSTD(1)),
    traits          String CODEC(ZSTD(1)),
    context         String CODEC(ZSTD(1)),
    kafka_partition UInt32,
    kafka_offset    UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (user_key, timestamp, event_id)
SETTINGS index_granularity = 1024, non_replicated_deduplication_window = 10000;
