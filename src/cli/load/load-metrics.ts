// `ctlog load`'s own metrics (its /metrics), so a staging dashboard shows the offered load
// beside what the log did with it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
