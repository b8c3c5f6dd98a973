// Every metric of ctlog, declared once (docs/STYLE.md). Names end in _total, _seconds, _bytes;
// labels are drawn from shard, endpoint, code, reason (bounded sets).
//
// With several workers (src/bin/workers.ts) /metrics is the sum over the process group
// (prom-client's AggregatorRegistry): counters and histograms add up; a gauge that is one
// fact seen by every process, or a worst case, declares aggregator 'max' instead.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One process's metrics as prom-client's AggregatorRegistry takes them. */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'ctlog_http_requests_total',
    help: 'HTTP requests by shard, endpoint and status code.',
    labelNames: ['shard', 'endpoint', 'code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'ctlog_http_request_duration_seconds',
    help: 'HTTP request latency by shard and endpoint.',
    labelNames: ['shard', 'endpoint'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly submissions = new Counter({
    name: 'ctlog_submissions_total',
    help: 'add-chain and add-pre-chain submissions by shard and outcome (new, duplicate, or a rejection reason).',
    labelNames: ['shard', 'endpoint', 'reason'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'ctlog_queue_depth',
    help: 'Submissions waiting for the sequencer, per shard, as seen by this front end.',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'ctlog_sequencer_batch_entries',
    help: 'New entries per committed batch.',
    labelNames: ['shard'] as const,
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [this.registry],
  });
  readonly sequencingDuration = new Histogram({
    name: 'ctlog_sequencing_duration_seconds',
    help: 'Time to commit a batch: dedup lookup, tree update, signing, transaction.',
    labelNames: ['shard'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly sequencedEntries = new Counter({
    name: 'ctlog_sequenced_entries_total',
    help: 'Entries committed to the tree (new), duplicates answered from it, and submissions whose batch failed (batch_failed; no_replica_ack when no replica acknowledged the commit).',
    labelNames: ['shard', 'reason'] as const,
    registers: [this.registry],
  });
  readonly refusedMessages = new Counter({
    name: 'ctlog_queue_messages_refused_total',
    help: 'Queue messages the sequencer refused because they did not authenticate under the queue key (nothing of them was sequenced).',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });
  readonly treeSize = new Gauge({
    name: 'ctlog_tree_size',
    help: 'Size of the latest signed tree head.',
    labelNames: ['shard'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly sthTimestamp = new Gauge({
    name: 'ctlog_sth_timestamp_seconds',
    help: 'Timestamp of the latest signed tree head (alert on time() - this: the STH age).',
    labelNames: ['shard'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly entryBytes = new Gauge({
    name: 'ctlog_database_bytes_per_entry_bytes',
    help: 'Database data + index bytes per entry, all log tables over all shards (MariaDB information_schema), sampled every 10 minutes by the sequencer.',
    labelNames: ['shard'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'ctlog_rate_limited_total',
    help: 'Requests refused by the per-client rate limit.',
    labelNames: ['shard', 'endpoint'] as const,
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'ctlog_refused_total',
    help: 'Requests refused by admission control, by cause: rate_limited, low_priority_limited, issuer_quota, over_capacity, overloaded, low_priority_shed, queue_full, read_rate_limited, busy, connection_limit, ... (shard "" for refusals before routing).',
    labelNames: ['shard', 'endpoint', 'reason'] as const,
    registers: [this.registry],
  });
  // The User-Agent is not part of any limit's key, only a label here. Its value is reduced to
  // the product token and, past the first AGENT_LABELS distinct ones, to "other": a client
  // cannot grow the metrics without bound by rotating it.
  readonly agentRequests = new Counter({
    name: 'ctlog_agent_submissions_total',
    help: 'add-chain and add-pre-chain requests by User-Agent product token (bounded set) and outcome (accepted or a refusal cause).',
    labelNames: ['agent', 'reason'] as const,
    registers: [this.registry],
  });
  readonly rateLimiterLocal = new Counter({
    name: 'ctlog_rate_limiter_local_decisions_total',
    help: 'Rate-limit decisions made by the local bucket because Redis failed (redis_error) or had too many calls outstanding (redis_busy).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly eventLoopLag = new Gauge({
    name: 'ctlog_event_loop_lag_seconds',
    help: 'Event loop lag as admission control sees it (smoothed; the worst worker); submissions are shed above the configured limit.',
    aggregator: 'max',
    registers: [this.registry],
  });

  readonly workers = new Gauge({
    name: 'ctlog_workers',
    help: 'Worker processes of this ctfe or serve, by state: running, or reporting (answered this scrape).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({
    name: 'ctlog_worker_restarts_total',
    help: 'Worker processes that died and were started again.',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ctlog_' });
  }
}

/** `ctlog monitor`'s metrics, on its own /metrics (src/cli/monitor). */
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

/** `ctlog load`'s metrics, on its own /metrics (src/cli/load): the offered load beside what the log did with it. */
export class LoadMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'ctlog_load_requests_total',
    help: 'Submissions answered, by endpoint and HTTP status (0: no answer: connection error or client timeout).',
    labelNames: ['endpoint', 'code'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'ctlog_load_dropped_total',
    help: 'Submissions not sent because --max-in-flight were already waiting (the log is slower than the offered rate).',
    registers: [this.registry],
  });
  readonly sctLatency = new Histogram({
    name: 'ctlog_load_sct_latency_seconds',
    help: 'From the scheduled send time to the answer (an open loop: queueing in the client counts), by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'ctlog_load_in_flight',
    help: 'Submissions sent and not yet answered.',
    registers: [this.registry],
  });
  readonly targetRate = new Gauge({
    name: 'ctlog_load_target_rate',
    help: 'The offered rate, submissions per second.',
    registers: [this.registry],
  });
  readonly inclusion = new Counter({
    name: 'ctlog_load_inclusion_checks_total',
    help: 'Sampled SCTs by outcome: included (verified proof), overdue (not included within the MMD), bad_sct, bad_proof.',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly inclusionLatency = new Histogram({
    name: 'ctlog_load_inclusion_latency_seconds',
    help: 'From a sampled SCT timestamp to its first verified inclusion proof.',
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400],
    registers: [this.registry],
  });
}
