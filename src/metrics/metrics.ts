// Every metric of ctlog, declared once (docs/STYLE.md). Names end in _total, _seconds, _bytes;
// labels are drawn from shard, endpoint, code, reason (bounded sets).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    help: 'Entries committed to the tree, and duplicates answered from it.',
    labelNames: ['shard', 'reason'] as const,
    registers: [this.registry],
  });
  readonly treeSize = new Gauge({
    name: 'ctlog_tree_size',
    help: 'Size of the latest signed tree head.',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });
  readonly sthTimestamp = new Gauge({
    name: 'ctlog_sth_timestamp_seconds',
    help: 'Timestamp of the latest signed tree head (alert on time() - this: the STH age).',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });
  readonly entryBytes = new Gauge({
    name: 'ctlog_database_bytes_per_entry_bytes',
    help: 'Database data + index bytes per entry, all log tables over all shards (MariaDB information_schema), sampled every 10 minutes by the sequencer.',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'ctlog_rate_limited_total',
    help: 'Requests refused by the per-client rate limit.',
    labelNames: ['shard', 'endpoint'] as const,
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ctlog_' });
  }
}
