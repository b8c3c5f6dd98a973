// `ctlog monitor`: a LogMonitor per log, run every interval (or once), the state saved after
// each round, every problem a JSON log line and a metric.
import type { Logger } from '../../log/logger.js';
import { b64 } from '../../util/bytes.js';
import { logIdFromSpki } from '../../signing/index.js';
import type { TestIssuer } from '../test-issuer.js';
import { LogMonitor, type MonitorTarget, type Problem } from './log-monitor.js';
import { MonitorMetrics } from '../../metrics/metrics.js';
import { MonitorState } from './monitor-state.js';

export interface MonitorOptions {
  targets: MonitorTarget[];
  /** The state file; undefined keeps the state in memory only. */
  statePath?: string;
  intervalMs: number;
  maxSthAgeMs: number;
  entriesPerRound: number;
  issuer?: TestIssuer;
  timeoutMs: number;
  log: Logger;
  clock?: () => number;
  metrics?: MonitorMetrics;
}

export class Monitor {
  readonly metrics: MonitorMetrics;
  readonly logs: LogMonitor[];
  /** Every problem raised so far (bounded: the last 10000). */
  readonly problems: Problem[] = [];
  private readonly state: MonitorState;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: MonitorOptions) {
    this.metrics = o.metrics ?? new MonitorMetrics();
    this.state = new MonitorState(o.statePath);
    const clock = o.clock ?? Date.now;
    this.logs = o.targets.map(
      (target) =>
        new LogMonitor({
          target,
          metrics: this.metrics,
          state: this.state.log(b64(logIdFromSpki(target.key))),
          clock,
          maxSthAgeMs: o.maxSthAgeMs,
          entriesPerRound: o.entriesPerRound,
          issuer: o.issuer,
          timeoutMs: o.timeoutMs,
          onProblem: (p) => {
            this.problems.push(p);
            if (this.problems.length > 10_000) this.problems.shift();
            o.log.error('monitor alarm', p);
          },
        }),
    );
  }

  /** One round on every log at once; the state is saved afterwards. */
  async round(opts: { submit?: boolean } = {}): Promise<void> {
    await Promise.all(this.logs.map((m) => m.round(opts)));
    this.state.save();
  }

  /**
   * `--once`: every check once; with canaries, polls (every `pollMs`) until each canary is
   * included, its MMD has passed, or maxWaitMs (then each one still waiting is an
   * inclusion_timeout problem). Resolves with the problems raised.
   */
  async once(pollMs = 1000, maxWaitMs = Infinity): Promise<Problem[]> {
    const start = this.problems.length;
    const clock = this.o.clock ?? Date.now;
    await this.round();
    // Every canary's SCT is older than t1, so a round after t1 + MMD sees each one included
    // or overdue; the last sleep ends just past the deadline for that round.
    const t1 = clock();
    const deadline = t1 + Math.min(maxWaitMs, Math.max(...this.o.targets.map((t) => t.mmdSeconds), 0) * 1000);
    while (this.o.issuer && this.logs.some((m) => m.waitingCanaries > 0) && clock() <= deadline) {
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(pollMs, deadline - clock() + 1))));
      await this.round({ submit: false });
    }
    for (const m of this.logs) m.giveUpWaiting(clock() - t1);
    this.state.save();
    return this.problems.slice(start);
  }

  /** Runs a round every intervalMs (measured from the start of one round to the next) until close(). */
  start(): void {
    const loop = async () => {
      const t0 = Date.now();
      this.running = this.round().catch((err) => this.o.log.error('monitor round failed', { err }));
      await this.running;
      if (!this.stopped) this.timer = setTimeout(() => void loop(), Math.max(0, this.o.intervalMs - (Date.now() - t0)));
    };
    void loop();
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
