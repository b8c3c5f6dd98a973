// Composes the services into running processes: `ctlog serve` (all three), `ctlog ctfe`,
// `ctlog read`, `ctlog sequencer`. Entry points are the only place that may import every
// service; the services never import each other.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig, type LogConfig } from '../config/config.js';
import { loadRoots } from '../config/roots.js';
import { MISSING_QUEUE_KEY } from '../config/queue-key.js';
import { RedisRateLimiter, TokenBucketRateLimiter, createCtfe, type RateLimiter } from '../ctfe/index.js';
import { TrustedProxies } from '../http/client-address.js';
import { LoadMonitor } from '../http/load-monitor.js';
import { parseListen, sendError, sendJson } from '../http/respond.js';
import { currentState, type ShardRuntime } from '../http/shard-runtime.js';
import { createLogger, throttledLogger, type Logger } from '../log/logger.js';
import { Metrics, type MetricsJson } from '../metrics/metrics.js';
import { InProcessQueue } from '../queue/in-process-queue.js';
import type { SubmissionConsumer, SubmissionQueue } from '../queue/queue.js';
import { ExportStore, createReader, type Reader } from '../read/index.js';
import { startSequencers, type SequencerService } from '../sequencer/sequencer-service.js';
import { ensureMysqlDatabase, migrate, openDatabase } from '../storage/database.js';
import { LogStorage, bytesPerEntry, type ShardState } from '../storage/log-storage.js';
import { reconcileDeclaredStates, shardLifecycle, stateRank } from '../storage/shard-lifecycle.js';
import { watchShardStates } from '../storage/shard-state-watch.js';
import { CtError, notFound } from '../util/errors.js';
import { ensureKeys } from './keys.js';

export type Role = 'ctfe' | 'read' | 'sequencer';

export interface StartOptions {
  roles: Role[];
  configFile: string;
  dataDir: string;
  /** HOST:PORT of the HTTP server; none: no HTTP server (the sequencer of a cluster primary, whose workers serve). */
  listen?: string;
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix?: string;
  /**
   * The key that authenticates queue messages between the CTFE and the sequencer; required
   * with redisUrl when this process runs either (src/config/queue-key.ts loads it).
   */
  queueKey?: readonly Uint8Array[];
  /** Create shards missing from the database (explicit; the embedded default does it on first run). */
  createShards?: boolean;
  /** Run migrations at startup (serve does; split processes leave it to `ctlog migrate`). */
  migrate?: boolean;
  clock?: () => number;
  log?: Logger;
  /** Called when a sequencer hits a fatal error (the CLI shuts the process down: a restart recovers). */
  onFatal?: (err: Error) => void;
  /** How often every role re-reads the shards' states from the database (ms). @defaultValue 2000 */
  statePollMs?: number;
  /**
   * Worker processes serving the same port (src/bin/workers.ts), this one among them. With
   * more than one, every limit is kept in Redis so that it holds for the group, and the
   * limiter's fallback while Redis is away allows each worker its share. @defaultValue 1
   */
  workers?: number;
  /** The /metrics text; none: this process's own registry (a worker asks its primary for the group's). */
  collectMetrics?: () => Promise<string>;
  /** A worker's link to its group's other readers (src/bin/workers.ts WorkerChannel). */
  readGroup?: {
    announce(shard: string, size: number): Promise<void>;
    onFloor(raise: (shard: string, size: number) => void): void;
  };
}

export interface RunningLog {
  url: string;
  config: LogConfig;
  shards: ShardRuntime[];
  storage: LogStorage;
  metrics: Metrics;
  /** The read server, when this process has the read role. */
  reader?: Reader;
  sequencers?: SequencerService;
  /** Re-reads the shards' states now (every process also does so every statePollMs). */
  pollStates(): Promise<void>;
  /** This process's metrics, its gauges brought up to date first (what a primary aggregates). */
  metricsJson(): Promise<MetricsJson>;
  close(): Promise<void>;
}

export async function startLog(o: StartOptions): Promise<RunningLog> {
  // Repeated warnings and errors (a dependency that is away fails every request) are written
  // once per window with a count, not once per request.
  const log = throttledLogger(o.log ?? createLogger({ base: { roles: o.roles.join(',') } }));
  const clock = o.clock ?? Date.now;
  const embedded = !o.databaseUrl;
  if (o.roles.length < 3 && (!o.redisUrl || !o.databaseUrl)) {
    throw new Error(`ctlog ${o.roles.join('+')} as a separate process needs --database and --redis (or CTLOG_DATABASE_URL and CTLOG_REDIS_URL); use \`ctlog serve\` for one process`);
  }
  if (o.redisUrl && !o.queueKey && (o.roles.includes('ctfe') || o.roles.includes('sequencer'))) throw new Error(MISSING_QUEUE_KEY);
  if (embedded && o.roles.includes('sequencer')) {
    const generated = ensureKeys(loadConfig(o.configFile, o.dataDir), log);
    if (generated.length) log.info('generated shard keys on first run', { keys: generated });
  }
  const config = loadConfig(o.configFile, o.dataDir);

  if (o.databaseUrl && o.migrate) await ensureMysqlDatabase(o.databaseUrl);
  const knex = openDatabase({ url: o.databaseUrl, dataDir: o.dataDir, log });
  const storage = new LogStorage(knex);
  const metrics = new Metrics({ defaultMetrics: true });
  // Run in reverse order of acquisition; every one runs even when one fails. Once only.
  const closers: Array<() => Promise<unknown> | void> = [() => knex.destroy()];
  /** The HTTP handlers' own close(): run after the listener stops and before connections are cut. */
  const drains: Array<() => Promise<unknown> | void> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const c of closers.reverse()) await Promise.resolve(c()).catch((err) => log.warn('close failed', { err }));
    })());
  try {
    if (o.migrate || embedded) {
      const ran = await migrate(knex);
      if (ran.length) log.info('ran migrations', { migrations: ran });
    }

    // shards.yaml may move a shard forward; a declared state behind the database's stops here.
    if (await knex.schema.hasTable('shards')) await reconcileDeclaredStates(storage, config.shards, clock(), config.file);

    let sequencers: SequencerService | undefined;
    let queue: SubmissionQueue | undefined;
    let consumer: SubmissionConsumer | undefined;
    if (o.redisUrl) {
      // Loaded only with Redis: BullMQ costs ~0.7 s of start-up (docs/PERFORMANCE.md), which the
      // embedded default does not need.
      const { BullSubmissionConsumer, BullSubmissionQueue } = await import('../queue/bullmq-queue.js');
      if (o.roles.includes('ctfe')) queue = new BullSubmissionQueue({ redisUrl: o.redisUrl, prefix: o.redisPrefix, queueKey: o.queueKey!, log });
      if (o.roles.includes('sequencer')) {
        consumer = new BullSubmissionConsumer({
          redisUrl: o.redisUrl,
          prefix: o.redisPrefix,
          queueKey: o.queueKey!,
          log,
          onRefused: ({ shard, err }) => {
            // Someone wrote to Redis who is not a CTFE of this log, or the keys differ.
            log.warn('refused an unauthenticated queue message; nothing of it was sequenced', { shard, err: err.message });
            metrics.refusedMessages.inc({ shard });
          },
        });
      }
    } else {
      const q = new InProcessQueue();
      queue = q;
      consumer = q;
    }
    if (queue) closers.push(() => queue!.close());
    if (o.roles.includes('sequencer')) {
      sequencers = await startSequencers({
        storage,
        consumer: consumer!,
        shards: config.shards,
        clock,
        createMissing: o.createShards || embedded,
        statePollMs: o.statePollMs,
        onStateError: (err) => log.warn("sequencer: couldn't read the shards' states; retrying", { err: (err as Error).message }),
        onStateChange: (c) => log.info('shard stopped accepting entries', { shard: c.shard, state: c.state, reason: c.reason, tree_size: c.head?.treeSize }),
        requireReplicaAck: config.requireReplicaAck,
        onFatal: (err) => {
          log.error('sequencer stopped: fatal error; restart to recover from the database', { err });
          process.exitCode = 1;
          o.onFatal?.(err);
        },
        onBatchError: (b) => {
          log.warn('batch failed; its submitters got 503 and retry', { shard: b.shard, submissions: b.submissions, err: (b.err as { code?: string }).code ?? b.err.message.slice(0, 200) });
          // A replica that stopped acknowledging is counted apart: it is the alert that comes
          // before a failover would find a replica without the latest heads.
          const reason = b.err instanceof CtError && b.err.reason === 'no_replica_ack' ? 'no_replica_ack' : 'batch_failed';
          metrics.sequencedEntries.inc({ shard: b.shard, reason }, b.submissions);
        },
        onEntryRefused: (r) => {
          // A CTFE and a sequencer that rebuild entries differently (a rolling deploy), or a bug.
          log.warn('refused an entry whose stored row would not rebuild to its signed leaf', { shard: r.shard, err: r.err.message });
          metrics.sequencedEntries.inc({ shard: r.shard, reason: 'not_reproducible' });
        },
        onCommit: (c) => {
          metrics.batchSize.observe({ shard: c.shard }, c.added);
          metrics.sequencingDuration.observe({ shard: c.shard }, c.seconds);
          metrics.sequencedEntries.inc({ shard: c.shard, reason: 'new' }, c.added);
          metrics.sequencedEntries.inc({ shard: c.shard, reason: 'duplicate' }, c.duplicates);
          metrics.treeSize.set({ shard: c.shard }, c.treeSize);
        },
      });
      closers.push(() => sequencers!.close());
      // Bytes per entry is a headline figure: sample it for /metrics every 10 minutes
      // (information_schema is itself refreshed by InnoDB's background statistics).
      const sample = () =>
        bytesPerEntry(storage).then(
          (b) => {
            if (b !== undefined) for (const s of config.shards) metrics.entryBytes.set({ shard: s.name }, b);
          },
          (err) => log.warn("couldn't sample bytes per entry", { err }),
        );
      void sample();
      const sampler = setInterval(() => void sample(), 600_000);
      sampler.unref();
      closers.push(() => clearInterval(sampler));
    } else if (consumer) {
      closers.push(() => consumer!.close());
    }

    const shards = await shardRuntimes(storage, config, log);
    const handlers: Array<(req: IncomingMessage, res: ServerResponse) => boolean> = [];
    const trustedProxies = new TrustedProxies(config.trustedProxies);
    const workers = o.workers ?? 1;
    const bucket = (r: { perSecond: number; burst: number }) => new TokenBucketRateLimiter({ ratePerSecond: r.perSecond, burst: r.burst, clock });
    // A limit kept in this process's memory would allow each worker (and each replica) the
    // whole budget: different connections of one client land on different workers. Redis
    // holds one bucket for all of them. Reads stay in memory on a single process: a Redis
    // round trip would cost about as much as serving a read.
    const shared = (r: { perSecond: number; burst: number }, name: string) =>
      o.redisUrl
        ? new RedisRateLimiter({
            redis: o.redisUrl,
            ratePerSecond: r.perSecond,
            burst: r.burst,
            prefix: `${o.redisPrefix ?? 'ctlog'}:${name}:`,
            localShare: 1 / workers,
            log,
            onFallback: (reason) => metrics.rateLimiterLocal.inc({ reason }),
          })
        : bucket(r);
    const limiters: RateLimiter[] = [];
    const limiter = (r: { perSecond: number; burst: number } | undefined, name: string, inMemory = false): RateLimiter | undefined => {
      if (!r) return undefined;
      const l = inMemory ? bucket(r) : shared(r, name);
      limiters.push(l);
      return l;
    };
    closers.push(() => Promise.all(limiters.map((l) => (l instanceof RedisRateLimiter ? l.close() : undefined))));
    if (o.roles.includes('ctfe')) {
      // Every shard: a read-only or frozen one answers 403 naming the active shards.
      const rateLimit = limiter(config.rateLimit, 'rl');
      const load = new LoadMonitor(20, (lag) => metrics.eventLoopLag.set(lag / 1000)).start();
      closers.push(() => load.stop());
      const a = config.admission;
      const ctfe = createCtfe({
        queue: queue!,
        shards,
        metrics,
        log,
        clock,
        rateLimit,
        trustedProxies,
        verifyEverySct: config.verifyEverySct,
        admission: {
          load,
          shedLagMs: a.shedLagMs,
          maxPending: a.maxPending,
          maxQueueDelayMs: a.maxQueueDelayMs,
          maxLatencyMs: a.maxLatencyMs,
          oldNotBeforeMs: a.oldNotBeforeMs,
          lowPriorityLimit: limiter(a.lowPriority, 'rl-low'),
          issuerLimit: limiter(a.issuerQuota, 'rl-issuer'),
        },
      });
      handlers.push(ctfe.handle);
      drains.push(() => ctfe.close());
    }
    let reader: Reader | undefined;
    if (o.roles.includes('read')) {
      const rateLimit = limiter(config.readRateLimit, 'rl-read', workers === 1);
      reader = createReader({ storage, shards, metrics, log, clock, rateLimit, trustedProxies, meta: { baseUrl: config.baseUrl, operator: config.operator }, announce: o.readGroup?.announce });
      const r = reader;
      o.readGroup?.onFloor((shard, size) => r.raiseFloor(shard, size));
      handlers.push(reader.handle);
      drains.push(() => reader!.close());
    }
    // Every role follows the shards' states in the database: the CTFE refuses a shard that
    // left 'active', the read server moves a pruned shard to its export.
    const follow = async (states: Map<string, ShardState>) => {
      for (const rt of shards) {
        const db = states.get(rt.config.name);
        if (!db || !rt.live) continue;
        if (stateRank(db) > stateRank(rt.live.state)) {
          log.info('shard state changed', { shard: rt.config.name, from: rt.live.state, to: db });
          rt.live.state = db;
          rt.live.stateChangedAt = clock();
        }
        if (db === 'pruned' && reader && reader.sources()[rt.config.name] !== 'export') await mountExport(reader, storage, rt, log);
      }
    };
    const watch = watchShardStates(storage, {
      intervalMs: o.statePollMs,
      onStates: follow,
      onError: (err) => log.warn("couldn't read the shards' states", { err: (err as Error).message }),
    });
    closers.push(() => watch.stop());
    await watch.poll();

    // Gauges that are read, not pushed: brought up to date when metrics are collected.
    const metricsJson = () => {
      for (const s of shards) if (queue) metrics.queueDepth.set({ shard: s.config.name }, queue.depth(s.config.name));
      return metrics.registry.getMetricsAsJSON();
    };
    const running = { config, shards, storage, metrics, reader, sequencers, pollStates: () => watch.poll(), metricsJson, close };
    if (o.listen === undefined) return { url: '', ...running };
    const collect = o.collectMetrics ?? (async () => (await metricsJson(), metrics.registry.metrics()));
    const app = operatorApp({ storage, shards, metrics, log, clock, reader, collect });
    const limits = config.http;
    const server = createServer(
      {
        // Idle keep-alive connections outlive a load balancer's 60 s idle timeout; a client
        // gets headers_timeout_ms to send its headers and request_timeout_ms for the whole
        // request (a body is at most 512 KiB), so slow uploads cannot hold sockets and buffers.
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        // Node checks those two timeouts only this often (default 30 s: a slow client was cut
        // after up to 30 s more than configured). One second costs one walk of the
        // connection list per second.
        connectionsCheckingInterval: 1000,
      },
      (req, res) => {
        try {
          for (const h of handlers) if (h(req, res)) return;
          app(req, res);
        } catch (err) {
          sendError(res, err, log);
        }
      },
    );
    // Past this many open connections node closes new ones at once: the memory bound.
    server.maxConnections = limits.maxConnections;
    server.on('drop', () => metrics.refused.inc({ shard: '', endpoint: '', reason: 'connection_limit' }));
    const { host, port } = parseListen(o.listen);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    closers.push(() => closeServer(server, drains, log));
    const addr = server.address() as AddressInfo;
    const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    log.info('listening', { url, shards: shards.map((s) => s.config.name) });
    return { url, ...running };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Stops accepting, lets the handlers finish what they hold (the CTFE answers its waiting
 * submissions, whose entries may already be committed, instead of leaving the CA a
 * connection reset), then cuts the connections that are left.
 */
async function closeServer(server: Server, drains: Array<() => Promise<unknown> | void>, log: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const d of drains) await Promise.resolve(d()).catch((err) => log.warn('close failed', { err }));
  server.closeAllConnections();
  await closed;
}

/** static-ct-api origin of a shard: its submission prefix without the scheme. */
export function shardOrigin(config: LogConfig, prefix: string): string {
  const base = new URL(config.baseUrl);
  return `${base.host}${base.pathname.replace(/\/$/, '')}${prefix}`;
}

/**
 * Serves a pruned shard from its export: the directory shards.yaml names (export_dir) or
 * the one recorded at export, checked against the manifest hash recorded then. If it cannot
 * be opened the shard's reads fail with 500s naming the problem, and the next poll retries.
 */
async function mountExport(reader: Reader, storage: LogStorage, rt: ShardRuntime, log: Logger): Promise<void> {
  const lc = await shardLifecycle(storage, rt.id);
  const dir = rt.config.exportDir ?? lc.exportDir;
  if (!dir) {
    log.error('pruned shard has no export directory recorded; set export_dir in shards.yaml', { shard: rt.config.name });
    return;
  }
  try {
    const store = await ExportStore.open(dir, { logId: rt.logId, publicKey: rt.publicKey, manifestSha256: lc.exportManifestSha256 });
    reader.serveFromExport(rt.config.name, store);
    log.info('serving pruned shard from its export', { shard: rt.config.name, dir });
  } catch (err) {
    log.error("couldn't open the export of a pruned shard", { shard: rt.config.name, dir, err: (err as Error).message });
  }
}

async function shardRuntimes(storage: LogStorage, config: LogConfig, log: Logger): Promise<ShardRuntime[]> {
  const out: ShardRuntime[] = [];
  for (const cfg of config.shards) {
    const rec = await storage.getShard(cfg.name);
    if (!rec) {
      throw new Error(`shard ${cfg.name} is not in the database; run \`ctlog shard create --all\` once (it creates every configured shard, and is safe to re-run; the embedded \`ctlog serve\` does so on first run)`);
    }
    const { roots, skipped } = loadRoots(cfg.roots);
    if (skipped.length) log.warn('skipped unreadable roots', { shard: cfg.name, skipped: skipped.length });
    // The database's state, or the declared one when it is ahead (reconciled already).
    const state = stateRank(cfg.state) > stateRank(rec.state) ? cfg.state : rec.state;
    const lc = await shardLifecycle(storage, rec.id);
    out.push({
      config: cfg, id: rec.id, logId: rec.logId, publicKey: rec.publicKey, roots, origin: shardOrigin(config, cfg.prefix),
      live: { state, stateChangedAt: lc.stateChangedAt }, createdAt: rec.createdAt,
    });
  }
  return out;
}

/** /metrics, /livez, /healthz and the 404 for everything else: express, off the hot paths. */
function operatorApp(d: { storage: LogStorage; shards: ShardRuntime[]; metrics: Metrics; log: Logger; clock: () => number; reader?: Reader; collect: () => Promise<string> }) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.set('Content-Type', d.metrics.registry.contentType).send(await d.collect());
    } catch (err) {
      next(err);
    }
  });
  // /livez: the process answers (liveness). /readyz: the database answers too (readiness
  // of front ends and read servers, which can serve while the sequencer is away).
  // /healthz: also every active shard has a fresh STH (the sequencer's health; paging).
  app.get('/livez', (_req, res) => sendJson(res, 200, { ok: true }));
  app.get('/readyz', async (_req, res) => {
    // A read server whose database fell behind what it served is not ready: it answers 503.
    const behind = d.reader?.behind().length ? await d.reader.recheckBehind() : [];
    if (behind.length) {
      sendJson(res, 503, { ok: false, error: 'the database is behind tree heads this server already served', behind });
      return;
    }
    try {
      await d.storage.listShards();
      sendJson(res, 200, { ok: true });
    } catch (err) {
      // The driver's text (host names, users, statements) is for the log, not for clients.
      d.log.warn('readiness check: database unavailable', { err: (err as { code?: string }).code ?? (err as Error).message });
      sendJson(res, 503, { ok: false, error: 'database unavailable' });
    }
  });
  app.get('/healthz', async (_req, res) => {
    // Fails when an active shard has not produced an STH recently (docs/DESIGN.md "Operations").
    const now = d.clock();
    const shards: Record<string, unknown> = {};
    let ok = true;
    for (const s of d.shards) {
      try {
        const head = await d.storage.currentHead(s.id);
        const age = Math.max(0, now - head.timestamp);
        const limit = Math.max(10_000, 5 * s.config.sthIntervalMs);
        const fresh = currentState(s) !== 'active' || age <= limit;
        ok &&= fresh;
        d.metrics.sthTimestamp.set({ shard: s.config.name }, head.timestamp / 1000);
        d.metrics.treeSize.set({ shard: s.config.name }, head.treeSize);
        shards[s.config.name] = { tree_size: head.treeSize, sth_age_ms: age, ok: fresh };
      } catch (err) {
        ok = false;
        d.log.warn('health check: database unavailable', { shard: s.config.name, err: (err as { code?: string }).code ?? (err as Error).message });
        shards[s.config.name] = { ok: false, error: 'database unavailable' };
      }
    }
    sendJson(res, ok ? 200 : 503, { ok, shards });
  });
  app.use((req, res) => sendError(res, notFound('no_route', `no such endpoint: ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    sendError(res, err, d.log);
  });
  return app;
}
