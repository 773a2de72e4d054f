// Prometheus metrics of the stream processor, alerts and live volume.
//
// Volume gauges hold the last complete minute, for a bounded set of label values: the
// VOLUME_METRICS_TOP largest keys of each dimension by events, the rest summed as key="other".
// Gauges, not counters: which keys are "top" changes over time, and a counter whose label
// values come and go cannot be rate()d; the exact history is /v1/volume's.
import { Counter, Gauge, Histogram, type Registry } from '../common/metrics.js';

export interface StreamMetricsSources {
  lag(): { topic: string; partition: number; lag: number }[];
  watermark(): number;
  caughtUp(): boolean;
  leader(): boolean;
  pending(): number;
  alerting(): { rule: string; groups: number }[];
  ruleCounters(): { rule: string; late: number; overflow: number }[];
  /** Per dimension, the last complete minute's rows. */
  volumeMinute(): {
    by: Record<'source' | 'type' | 'event', { key: string; events: number; users: number; sums: Record<string, number> }[]>;
    rejected: { key: string; events: number }[];
  };
  top: number;
}

export interface StreamMetrics {
  records: Counter<'topic'>;
  late: Counter;
  undecodable: Counter;
  resends: Counter;
  commitSeconds: Histogram;
  roundSeconds: Histogram;
  notifications: Counter<'rule' | 'outcome'>;
  webhookSeconds: Histogram<'rule'>;
}

const TOPICS = ['events', 'rejected', 'alerts'] as const;

export function createStreamMetrics(registry: Registry, src: StreamMetricsSources): StreamMetrics {
  const records = new Counter({ name: 'trackhouse_stream_records_total', help: 'Records the stream processor took in, by topic (events, rejected, alerts: the notification log)', labelNames: ['topic'], registers: [registry] });
  for (const t of TOPICS) records.inc({ topic: t }, 0);
  const late = new Counter({ name: 'trackhouse_stream_late_events_total', help: 'Events older than the watermark minus STREAM_ALLOWED_LATENESS_MS, counted in the volume of their arrival minute as late', registers: [registry] });
  const undecodable = new Counter({ name: 'trackhouse_stream_undecodable_total', help: 'Event records the stream processor could not decode (skipped; the sink sends them to the DLQ)', registers: [registry] });
  const resends = new Counter({ name: 'trackhouse_stream_resent_events_total', help: 'Event records skipped as a client resend: a (user, messageId) read before, within SINK_DEDUP_WINDOW_EVENTS / _MS of the partition, as the sink and the view skip them', registers: [registry] });
  const commitSeconds = new Histogram({ name: 'trackhouse_stream_commit_duration_seconds', help: 'One LMDB transaction: state, offsets, notifications', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] });
  const roundSeconds = new Histogram({ name: 'trackhouse_stream_round_duration_seconds', help: 'Processing of one fetch (all partitions), decode to decisions', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] });
  const notifications = new Counter({ name: 'trackhouse_alerts_notifications_total', help: 'Webhook outcomes: delivered, failed (to be retried), dropped (after ALERTS_WEBHOOK_MAX_ATTEMPTS), superseded (already told)', labelNames: ['rule', 'outcome'], registers: [registry] });
  const webhookSeconds = new Histogram({ name: 'trackhouse_alerts_webhook_duration_seconds', help: 'One webhook call', labelNames: ['rule'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });

  new Gauge({
    name: 'trackhouse_stream_lag',
    help: 'Records not yet processed, per topic and partition (end offset last seen minus position)',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const l of src.lag()) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
    },
  });
  new Gauge({
    name: 'trackhouse_stream_watermark_delay_seconds',
    help: 'Now minus the watermark: how far behind real time windows are decided',
    registers: [registry],
    collect() {
      const w = src.watermark();
      this.set(Number.isFinite(w) ? Math.max(0, (Date.now() - w) / 1000) : -1);
    },
  });
  new Gauge({ name: 'trackhouse_stream_caught_up', help: '1 once the processor read every partition to where it ended at start', registers: [registry], collect() { this.set(src.caughtUp() ? 1 : 0); } });
  new Gauge({ name: 'trackhouse_alerts_leader', help: '1 on the replica that sends notifications', registers: [registry], collect() { this.set(src.leader() ? 1 : 0); } });
  new Gauge({ name: 'trackhouse_alerts_notifications_pending', help: 'Notifications not delivered or given up yet', registers: [registry], collect() { this.set(src.pending()); } });
  new Gauge({
    name: 'trackhouse_alerts_groups_alerting',
    help: 'Groups in the alert state, per rule',
    labelNames: ['rule'],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of src.alerting()) this.set({ rule: a.rule }, a.groups);
    },
  });
  new Gauge({
    name: 'trackhouse_alerts_rule_late_records',
    help: 'Records too late for a rule\'s windows since start, per rule',
    labelNames: ['rule'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of src.ruleCounters()) this.set({ rule: c.rule }, c.late);
    },
  });
  new Gauge({
    name: 'trackhouse_alerts_rule_overflow_records',
    help: 'Records not tracked because the rule already tracks max_groups groups, since start, per rule',
    labelNames: ['rule'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of src.ruleCounters()) this.set({ rule: c.rule }, c.overflow);
    },
  });

  // One computation per scrape for the four volume gauges.
  let snapshot: { at: number; v: ReturnType<StreamMetricsSources['volumeMinute']> } | null = null;
  const volume = () => {
    if (snapshot === null || Date.now() - snapshot.at > 1_000) snapshot = { at: Date.now(), v: src.volumeMinute() };
    return snapshot.v;
  };
  const topN = <T extends { key: string; events: number }>(rows: T[], merge: (into: T, from: T) => void, other: () => T): T[] => {
    const sorted = [...rows].sort((a, b) => b.events - a.events || (a.key < b.key ? -1 : 1));
    if (sorted.length <= src.top) return sorted;
    const rest = other();
    for (const r of sorted.slice(src.top)) merge(rest, r);
    return [...sorted.slice(0, src.top), rest];
  };
  type Row = { key: string; events: number; users: number; sums: Record<string, number> };
  const rowsOf = (by: 'source' | 'type' | 'event'): Row[] =>
    topN<Row>(
      volume().by[by],
      (into, from) => {
        into.events += from.events;
        // Distinct users of "other" are not additive; the sum is an upper bound.
        into.users += from.users;
        for (const [k, v] of Object.entries(from.sums)) into.sums[k] = (into.sums[k] ?? 0) + v;
      },
      () => ({ key: 'other', events: 0, users: 0, sums: {} }),
    );
  new Gauge({
    name: 'trackhouse_volume_events',
    help: 'Events in the last complete minute (event time), by source, type and event name; top VOLUME_METRICS_TOP keys, the rest as other',
    labelNames: ['by', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const by of ['source', 'type', 'event'] as const) for (const r of rowsOf(by)) this.set({ by, key: r.key }, r.events);
    },
  });
  new Gauge({
    name: 'trackhouse_volume_users',
    help: 'Distinct users in the last complete minute, by source, type and event name (key other: an upper bound)',
    labelNames: ['by', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const by of ['source', 'type', 'event'] as const) for (const r of rowsOf(by)) this.set({ by, key: r.key }, r.users);
    },
  });
  new Gauge({
    name: 'trackhouse_volume_sum',
    help: 'Sums of VOLUME_SUM_PROPERTIES in the last complete minute, by source',
    labelNames: ['property', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of rowsOf('source')) for (const [property, v] of Object.entries(r.sums)) this.set({ property, key: r.key }, v);
    },
  });
  new Gauge({
    name: 'trackhouse_volume_rejected',
    help: 'Rejected records in the last complete minute (arrival time), by reason',
    labelNames: ['key'],
    registers: [registry],
    collect() {
      this.reset();
      const rows = topN(volume().rejected, (into, from) => (into.events += from.events), () => ({ key: 'other', events: 0 }));
      for (const r of rows) this.set({ key: r.key }, r.events);
    },
  });
  return { records, late, undecodable, resends, commitSeconds, roundSeconds, notifications, webhookSeconds };
}
