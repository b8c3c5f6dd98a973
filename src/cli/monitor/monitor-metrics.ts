// The monitor's own metrics (on its own /metrics, not the log's). Labels: log (the monitored
// log's URL, a handful), check (the bounded set CHECKS) and kind (bounded failure kinds).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const CHECKS = ['sth', 'freshness', 'consistency', 'entries', 'checkpoint', 'canary_submit', 'canary_inclusion'] as const;
export type Check = (typeof CHECKS)[number];

export class MonitorMetrics {
  readonly registry = new Registry();

  readonly lastSuccess = new Gauge({
    name: 'ctlog_monitor_check_last_success_timestamp_seconds',
    help: 'When each check last passed, per log (Unix seconds).',
    labelNames: ['log', 'check'] as const,
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'ctlog_monitor_check_failures_total',
    help: 'Failed checks per log, check and kind of failure (bad_signature, inconsistent, tree_shrank, stale, inclusion_overdue, http_5xx, ...).',
    labelNames: ['log', 'check', 'kind'] as const,
    registers: [this.registry],
  });
  readonly sthAge = new Gauge({
    name: 'ctlog_monitor_sth_age_seconds',
    help: 'Age of the latest verified STH when last fetched.',
    labelNames: ['log'] as const,
    registers: [this.registry],
  });
  readonly treeSize = new Gauge({
    name: 'ctlog_monitor_tree_size',
    help: 'Tree size of the latest verified STH.',
    labelNames: ['log'] as const,
    registers: [this.registry],
  });
  readonly growthRate = new Gauge({
    name: 'ctlog_monitor_tree_growth_entries_per_second',
    help: 'Entries per second between the two latest verified STHs (by their timestamps).',
    labelNames: ['log'] as const,
    registers: [this.registry],
  });
  readonly inclusionLatency = new Histogram({
    name: 'ctlog_monitor_inclusion_latency_seconds',
    help: 'From a canary SCT timestamp to the first verified inclusion proof against a fresh STH.',
    labelNames: ['log'] as const,
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
    registers: [this.registry],
  });
  readonly canaryPending = new Gauge({
    name: 'ctlog_monitor_canary_pending',
    help: 'Canary submissions with an SCT but no inclusion proof yet.',
    labelNames: ['log'] as const,
    registers: [this.registry],
  });
  readonly canaryOverdue = new Gauge({
    name: 'ctlog_monitor_canary_overdue',
    help: 'Canary submissions not included within the MMD (an alarm while above 0).',
    labelNames: ['log'] as const,
    registers: [this.registry],
  });
}
