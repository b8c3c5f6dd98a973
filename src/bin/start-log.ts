// Composes the services into running processes: `ctlog serve` (all three), `ctlog ctfe`,
// `ctlog read`, `ctlog sequencer`. Entry points are the only place that may import every
// service; the services never import each other.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig, type LogConfig } from '../config/config.js';
import { loadRoots } from '../config/roots.js';
import { RedisRateLimiter, TokenBucketRateLimiter, createCtfe } from '../ctfe/index.js';
import { parseListen, sendError, sendJson } from '../http/respond.js';
import type { ShardRuntime } from '../http/shard-runtime.js';
import { createLogger, type Logger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { InProcessQueue } from '../queue/in-process-queue.js';
import type { SubmissionConsumer, SubmissionQueue } from '../queue/queue.js';
import { createReader, type Reader } from '../read/index.js';
import { startSequencers, type SequencerService } from '../sequencer/sequencer-service.js';
import { ensureMysqlDatabase, migrate, openDatabase } from '../storage/database.js';
import { LogStorage, bytesPerEntry } from '../storage/log-storage.js';
import { notFound } from '../util/errors.js';
import { ensureKeys } from './keys.js';

export type Role = 'ctfe' | 'read' | 'sequencer';

export interface StartOptions {
  roles: Role[];
  configFile: string;
  dataDir: string;
  listen: string;
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix?: string;
  /** Create shards missing from the database (explicit; the embedded default does it on first run). */
  createShards?: boolean;
  /** Run migrations at startup (serve does; split processes leave it to `ctlog migrate`). */
  migrate?: boolean;
  clock?: () => number;
  log?: Logger;
  /** Called when a sequencer hits a fatal error (the CLI shuts the process down: a restart recovers). */
  onFatal?: (err: Error) => void;
}

export interface RunningLog {
  url: string;
  config: LogConfig;
  shards: ShardRuntime[];
  storage: LogStorage;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function startLog(o: StartOptions): Promise<RunningLog> {
  const log = o.log ?? createLogger({ base: { roles: o.roles.join(',') } });
  const clock = o.clock ?? Date.now;
  const embedded = !o.databaseUrl;
  if (o.roles.length < 3 && (!o.redisUrl || !o.databaseUrl)) {
    throw new Error(`ctlog ${o.roles.join('+')} as a separate process needs --database and --redis (or CTLOG_DATABASE_URL and CTLOG_REDIS_URL); use \`ctlog serve\` for one process`);
  }
  if (embedded && o.roles.includes('sequencer')) {
    const generated = ensureKeys(loadConfig(o.configFile, o.dataDir), log);
    if (generated.length) log.info('generated shard keys on first run', { keys: generated });
  }
  const config = loadConfig(o.configFile, o.dataDir);

  if (o.databaseUrl && o.migrate) await ensureMysqlDatabase(o.databaseUrl);
  const knex = openDatabase({ url: o.databaseUrl, dataDir: o.dataDir });
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

    let sequencers: SequencerService | undefined;
    let queue: SubmissionQueue | undefined;
    let consumer: SubmissionConsumer | undefined;
    if (o.redisUrl) {
      // Loaded only with Redis: BullMQ costs ~0.7 s of start-up (docs/PERFORMANCE.md), which the
      // embedded default does not need.
      const { BullSubmissionConsumer, BullSubmissionQueue } = await import('../queue/bullmq-queue.js');
      if (o.roles.includes('ctfe')) queue = new BullSubmissionQueue({ redisUrl: o.redisUrl, prefix: o.redisPrefix });
      if (o.roles.includes('sequencer')) consumer = new BullSubmissionConsumer({ redisUrl: o.redisUrl, prefix: o.redisPrefix });
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
        requireReplicaAck: config.requireReplicaAck,
        onFatal: (err) => {
          log.error('sequencer stopped: fatal error; restart to recover from the database', { err });
          process.exitCode = 1;
          o.onFatal?.(err);
        },
        onBatchError: (b) => {
          log.warn('batch failed; its submitters got 503 and retry', { shard: b.shard, submissions: b.submissions, err: (b.err as { code?: string }).code ?? b.err.message.slice(0, 200) });
          metrics.sequencedEntries.inc({ shard: b.shard, reason: 'batch_failed' }, b.submissions);
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
    if (o.roles.includes('ctfe')) {
      // Every shard: a read-only or frozen one answers 403 naming the active shards.
      const rateLimit = config.rateLimit
        ? o.redisUrl
          ? new RedisRateLimiter({ redis: o.redisUrl, ratePerSecond: config.rateLimit.perSecond, burst: config.rateLimit.burst, prefix: `${o.redisPrefix ?? 'ctlog'}:rl:`, log })
          : new TokenBucketRateLimiter({ ratePerSecond: config.rateLimit.perSecond, burst: config.rateLimit.burst, clock })
        : undefined;
      if (rateLimit && 'close' in rateLimit) closers.push(() => (rateLimit as RedisRateLimiter).close());
      const ctfe = createCtfe({ queue: queue!, shards, metrics, log, clock, rateLimit, trustForwardedFor: config.trustForwardedFor });
      handlers.push(ctfe.handle);
      drains.push(() => ctfe.close());
    }
    let reader: ReturnType<typeof createReader> | undefined;
    if (o.roles.includes('read')) {
      reader = createReader({ storage, shards, metrics, log, clock });
      handlers.push(reader.handle);
      drains.push(() => reader!.close());
    }

    const app = operatorApp({ storage, shards, metrics, log, clock, queue, reader });
    const server = createServer((req, res) => {
      try {
        for (const h of handlers) if (h(req, res)) return;
        app(req, res);
      } catch (err) {
        sendError(res, err, log);
      }
    });
    // Idle keep-alive connections outlive a load balancer's 60 s idle timeout; a client gets
    // 20 s to send its headers and 30 s for the whole request (a body is at most 512 KiB),
    // so slow uploads cannot hold sockets and buffers for minutes.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 20_000;
    server.requestTimeout = 30_000;
    const { host, port } = parseListen(o.listen);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    closers.push(() => closeServer(server, drains, log));
    const addr = server.address() as AddressInfo;
    const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    log.info('listening', { url, shards: shards.map((s) => s.config.name) });
    return { url, config, shards, storage, metrics, close };
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

async function shardRuntimes(storage: LogStorage, config: LogConfig, log: Logger): Promise<ShardRuntime[]> {
  const out: ShardRuntime[] = [];
  const base = new URL(config.baseUrl);
  for (const cfg of config.shards) {
    const rec = await storage.getShard(cfg.name);
    if (!rec) {
      throw new Error(`shard ${cfg.name} is not in the database; run \`ctlog shard create --all\` once (it creates every configured shard, and is safe to re-run; the embedded \`ctlog serve\` does so on first run)`);
    }
    const { roots, skipped } = loadRoots(cfg.roots);
    if (skipped.length) log.warn('skipped unreadable roots', { shard: cfg.name, skipped: skipped.length });
    out.push({ config: cfg, id: rec.id, logId: rec.logId, publicKey: rec.publicKey, roots, origin: `${base.host}${base.pathname.replace(/\/$/, '')}${cfg.prefix}` });
  }
  return out;
}

/** /metrics, /livez, /healthz and the 404 for everything else: express, off the hot paths. */
function operatorApp(d: { storage: LogStorage; shards: ShardRuntime[]; metrics: Metrics; log: Logger; clock: () => number; queue?: SubmissionQueue; reader?: Reader }) {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res, next) => {
    try {
      for (const s of d.shards) if (d.queue) d.metrics.queueDepth.set({ shard: s.config.name }, d.queue.depth(s.config.name));
      res.set('Content-Type', d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
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
    const behind = d.reader?.behind() ?? [];
    if (behind.length) {
      sendJson(res, 503, { ok: false, error: 'the database is behind tree heads this server already served', behind });
      return;
    }
    try {
      await d.storage.listShards();
      sendJson(res, 200, { ok: true });
    } catch (err) {
      sendJson(res, 503, { ok: false, error: `database: ${(err as Error).message}` });
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
        const fresh = s.config.state !== 'active' || age <= limit;
        ok &&= fresh;
        d.metrics.sthTimestamp.set({ shard: s.config.name }, head.timestamp / 1000);
        d.metrics.treeSize.set({ shard: s.config.name }, head.treeSize);
        shards[s.config.name] = { tree_size: head.treeSize, sth_age_ms: age, ok: fresh };
      } catch (err) {
        ok = false;
        shards[s.config.name] = { ok: false, error: (err as Error).message };
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
