-- The audit trail's queryable copy: one row per record of the trackhouse.audit topic (the
-- append-only source), copied by the query API (src/audit/copier.ts) and read by GET /v1/audit.
-- No API writes or changes it. kafka_offset is the record's offset: a record copied twice (two
-- query replicas, a restart) is one row after merges, and reads use FINAL.
-- scope and counts are JSON text: user ids appear only as sha256 hashes.
CREATE TABLE IF NOT EXISTS audit_log
(
    time         DateTime64(3, 'UTC'),
    actor        String,
    action       LowCardinality(String),
    id           String,
    scope        String,
    counts       String,
    outcome      LowCardinality(String),
    kafka_offset UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (time, kafka_offset);
