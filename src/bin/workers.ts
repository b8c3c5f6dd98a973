// Several worker processes on one port (`ctlog ctfe` and `ctlog serve --workers N`): one
// Node thread is one core, and a CTFE is CPU-bound (docs/PERFORMANCE.md). node:cluster's
// primary accepts connections and hands them to its workers in turn (Node 20 has no
// SO_REUSEPORT), so a keep-alive client stays on one worker and each new connection may
// land on another.
//
// What must stay one thing across workers:
//  - the sequencer: one per shard. The primary of `ctlog serve` runs it; the workers run the
//    CTFE and the read server, and reach it through the Redis queue like separate processes.
//  - the limits: kept in Redis (src/bin/start-log.ts), which every worker and replica shares.
//  - what reads have served: a worker about to serve a larger tree head announces its size;
//    the primary passes it to every other worker, which from then on serves no smaller
//    tree, and only once they all acknowledged does the first one answer. A client whose
//    connections land on different workers never sees tree_size go backwards.
//  - /metrics: whichever worker is asked gets the group's from the primary, which gathers
//    every worker's registry over IPC and sums them (prom-client's AggregatorRegistry).
// The primary forwards SIGTERM to every worker, waits for them to drain, then stops its
// sequencer (the workers' waiting submissions need it until they are answered). A worker
// that dies is started again.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { Metrics, MetricsJson } from '../metrics/metrics.js';

/** How long the primary waits for one worker's metrics before scraping without them. */
const SCRAPE_TIMEOUT_MS = 3000;
/** How long a worker waits for the group to take a new tree size before it serves it anyway. */
const FLOOR_TIMEOUT_MS = 1000;
/** How long a stopping primary waits for its workers to drain before killing them. */
const DRAIN_TIMEOUT_MS = 40_000;
/** A worker that dies sooner than this after starting is restarted after a growing pause. */
const CRASH_LOOP_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

type Message =
  | { ctlog: 'ready'; banner: string }
  | { ctlog: 'metrics?'; id: number }
  | { ctlog: 'metrics'; id: number; text?: string; error?: string }
  | { ctlog: 'metrics-json?'; id: number }
  | { ctlog: 'metrics-json'; id: number; json: MetricsJson }
  | { ctlog: 'served'; id: number; shard: string; size: number }
  | { ctlog: 'served-ok'; id: number }
  | { ctlog: 'floor'; id: number; shard: string; size: number }
  | { ctlog: 'floor-ok'; id: number };

const isMessage = (m: unknown): m is Message => typeof m === 'object' && m !== null && typeof (m as { ctlog?: unknown }).ctlog === 'string';

export const isWorker = cluster.isWorker;

/** Requests to the other side that wait for an answer, each with its own deadline. */
class Pending<T> {
  #next = 0;
  readonly #waiting = new Map<number, (v: T | undefined) => void>();

  /** Calls send(id) and resolves with the answer to id, or undefined after timeoutMs. */
  ask(send: (id: number) => void, timeoutMs: number): Promise<T | undefined> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.answer(id, undefined), timeoutMs);
      timer.unref();
      this.#waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      try {
        send(id);
      } catch {
        this.answer(id, undefined);
      }
    });
  }

  answer(id: number, v: T | undefined): void {
    const done = this.#waiting.get(id);
    this.#waiting.delete(id);
    done?.(v);
  }
}

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** The primary's own metrics (its sequencer's, or just its process's), scraped with the workers'. */
  metrics: Metrics;
  /** The primary's own metrics as JSON, gauges up to date. @defaultValue metrics.registry.getMetricsAsJSON */
  ownMetrics?: () => Promise<MetricsJson>;
  /** Called once every worker listens, with the first worker's banner. */
  onReady(banner: string): void;
}

export interface Primary {
  /** Resolves once every worker listens; rejects with the exit code of a worker that died first. */
  ready: Promise<void>;
  /** SIGTERM to every worker; resolves once all have exited (killed after DRAIN_TIMEOUT_MS). Idempotent. */
  stop(): Promise<void>;
}

/** Starts the workers (this process must be the cluster primary) and keeps them running. */
export function startPrimary(o: PrimaryOptions): Primary {
  const ready = new Set<Worker>();
  const startedAt = new Map<Worker, number>();
  const pending = new Pending<MetricsJson>();
  const floors = new Pending<true>();
  let stopping: Promise<void> | undefined;
  let restartDelay = 0;
  let allReady!: () => void;
  let failed!: (code: number) => void;
  let started = false;
  const readyPromise = new Promise<void>((resolve, reject) => {
    allReady = resolve;
    failed = (code) => reject(Object.assign(new Error(`a worker exited with code ${code} while starting`), { exitCode: code }));
  });

  const fork = () => {
    const w = cluster.fork();
    startedAt.set(w, performance.now());
    w.on('message', (m: unknown) => onMessage(w, m));
    w.on('exit', (code, signal) => onExit(w, code, signal));
    return w;
  };

  const onMessage = (w: Worker, m: unknown) => {
    if (!isMessage(m)) return;
    if (m.ctlog === 'ready') {
      ready.add(w);
      if (!started && ready.size === o.workers) {
        started = true;
        allReady();
        o.onReady(m.banner);
      }
    } else if (m.ctlog === 'metrics-json') {
      pending.answer(m.id, m.json);
    } else if (m.ctlog === 'served') {
      // A worker that does not take the floor in time is hung or dying: it answers nobody.
      const others = [...ready].filter((o) => o !== w && o.isConnected());
      void Promise.all(others.map((o) => floors.ask((id) => o.send({ ctlog: 'floor', id, shard: m.shard, size: m.size }), FLOOR_TIMEOUT_MS))).then(
        () => w.isConnected() && w.send({ ctlog: 'served-ok', id: m.id }),
      );
    } else if (m.ctlog === 'floor-ok') {
      floors.answer(m.id, true);
    } else if (m.ctlog === 'metrics?') {
      scrape().then(
        (text) => w.isConnected() && w.send({ ctlog: 'metrics', id: m.id, text }),
        (err: unknown) => w.isConnected() && w.send({ ctlog: 'metrics', id: m.id, error: (err as Error).message }),
      );
    }
  };

  const onExit = (w: Worker, code: number | null, signal: string | null) => {
    const wasReady = ready.delete(w);
    const lived = performance.now() - (startedAt.get(w) ?? 0);
    startedAt.delete(w);
    if (stopping) return;
    if (!started) {
      // It could not start (a bad flag, an unreachable database): the others will not
      // either. The worker has printed why.
      failed(code ?? 1);
      return;
    }
    o.metrics.workerRestarts.inc();
    restartDelay = lived < CRASH_LOOP_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(1000, restartDelay * 2)) : 0;
    o.log.error('worker exited; starting another', { pid: w.process.pid, code, signal, was_ready: wasReady, restart_in_ms: restartDelay });
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelay).unref();
  };

  // Concurrent scrapes share one round of IPC.
  let scraping: Promise<string> | undefined;
  const scrape = () =>
    (scraping ??= (async () => {
      try {
        const live = [...ready].filter((w) => w.isConnected());
        const parts = await Promise.all(live.map((w) => pending.ask((id) => w.send({ ctlog: 'metrics-json?', id }), SCRAPE_TIMEOUT_MS)));
        const got = parts.filter((p): p is MetricsJson => p !== undefined);
        o.metrics.workers.set({ state: 'running' }, live.length);
        o.metrics.workers.set({ state: 'reporting' }, got.length);
        const own = await (o.ownMetrics ?? (() => o.metrics.registry.getMetricsAsJSON()))();
        return await AggregatorRegistry.aggregate([own, ...got]).metrics();
      } finally {
        scraping = undefined;
      }
    })());

  for (let i = 0; i < o.workers; i++) fork();

  const stop = () =>
    (stopping ??= (async () => {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      const exited = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGTERM');
      const killer = setTimeout(() => {
        for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      }, DRAIN_TIMEOUT_MS);
      await Promise.all(exited);
      clearTimeout(killer);
    })());

  return { ready: readyPromise, stop };
}

/**
 * The worker's side: tells the primary it listens, answers its metrics requests, and
 * returns what a worker's /metrics serves (the whole group's, from the primary).
 */
export interface WorkerChannel {
  ready(banner: string, metricsJson: () => Promise<MetricsJson>): void;
  collectMetrics(): Promise<string>;
  /** Resolves once every other worker serves no tree of `shard` smaller than `size` (or after FLOOR_TIMEOUT_MS). */
  announce(shard: string, size: number): Promise<void>;
  /** Called when another worker announces a size (src/read/create-reader.ts raiseFloor). */
  onFloor(raise: (shard: string, size: number) => void): void;
}

export function workerChannel(): WorkerChannel {
  const pending = new Pending<{ text?: string; error?: string }>();
  const served = new Pending<true>();
  let metricsJson: (() => Promise<MetricsJson>) | undefined;
  let raise: ((shard: string, size: number) => void) | undefined;
  // Floors that arrive before the reader exists are kept and applied when it registers.
  const early = new Map<string, number>();
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.ctlog === 'floor') {
      if (raise) raise(m.shard, m.size);
      else early.set(m.shard, Math.max(early.get(m.shard) ?? 0, m.size));
      if (process.connected) process.send!({ ctlog: 'floor-ok', id: m.id });
      return;
    }
    if (m.ctlog === 'served-ok') {
      served.answer(m.id, true);
      return;
    }
    if (m.ctlog === 'metrics-json?' && metricsJson) {
      metricsJson().then(
        (json) => process.connected && process.send!({ ctlog: 'metrics-json', id: m.id, json }),
        () => {}, // the primary scrapes without this worker after its timeout
      );
    } else if (m.ctlog === 'metrics') {
      pending.answer(m.id, m);
    }
  });
  return {
    ready(banner, json) {
      metricsJson = json;
      process.send!({ ctlog: 'ready', banner });
    },
    async announce(shard, size) {
      if (!process.connected) return;
      await served.ask((id) => process.send!({ ctlog: 'served', id, shard, size }), FLOOR_TIMEOUT_MS * 2);
    },
    onFloor(r) {
      raise = r;
      for (const [shard, size] of early) r(shard, size);
      early.clear();
    },
    async collectMetrics() {
      const r = await pending.ask((id) => process.send!({ ctlog: 'metrics?', id }), SCRAPE_TIMEOUT_MS * 2);
      if (r?.text === undefined) throw new Error(`the primary did not answer with the group's metrics${r?.error ? `: ${r.error}` : ''}`);
      return r.text;
    },
  };
}
