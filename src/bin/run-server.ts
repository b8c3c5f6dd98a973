// Runs one serving process (serve, or one role) until SIGTERM/SIGINT or a fatal sequencer
// error, then drains and resolves; the entry point exits with process.exitCode. The CTFE's
// commands run as a group of worker processes on one port (src/bin/workers.ts).
import { availableParallelism } from 'node:os';
import { MISSING_QUEUE_KEY, loadQueueKey } from '../config/queue-key.js';
import { createLogger } from '../log/logger.js';
import { Metrics } from '../metrics/metrics.js';
import { b64 } from '../util/bytes.js';
import type { CommonOptions } from './options.js';
import { UsageError } from './options.js';
import { startLog, type Role, type RunningLog } from './start-log.js';
import { isWorker, startPrimary, workerChannel } from './workers.js';

/**
 * How many processes serve: --workers, else one per core (`ctlog read`: one). The embedded default is one
 * process: its queue lives in that process's memory and SQLite has one writer, so workers
 * would have to forward every submission to it over IPC, paying about what they would save.
 */
export function workerCount(roles: Role[], o: CommonOptions): number {
  // A read server alone runs one process unless asked: each worker keeps caches of its own.
  if (!roles.includes('ctfe')) return roles.includes('read') ? (o.workers ?? 1) : 1;
  const embedded = !o.database || !o.redis;
  if (embedded) {
    if (o.workers !== undefined && o.workers > 1) {
      throw new UsageError(`--workers ${o.workers} needs --database and --redis: the embedded default (SQLite and an in-process queue) runs in one process`);
    }
    return 1;
  }
  return o.workers ?? availableParallelism();
}

export async function runServer(roles: Role[], o: CommonOptions): Promise<void> {
  if (roles.length < 3 && (!o.database || !o.redis)) {
    throw new UsageError(`ctlog ${roles.join('+')} as a separate process needs --database and --redis (or CTLOG_DATABASE_URL and CTLOG_REDIS_URL); use \`ctlog serve\` for one process`);
  }
  // Redis is not trusted with what gets signed: the CTFE and the sequencer authenticate every
  // queue message with a key Redis never sees, and do not start without it.
  let queueKey: Uint8Array[] | undefined;
  if (o.redis && (roles.includes('ctfe') || roles.includes('sequencer'))) {
    try {
      queueKey = loadQueueKey({ file: o.queueKeyFile, value: o.queueKey, dataDir: o.data });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!queueKey) throw new UsageError(MISSING_QUEUE_KEY);
  }
  const workers = workerCount(roles, o);
  if (o.redis && !isWorker) await checkRedis(o.redis);
  if (workers > 1 && !isWorker) return runPrimary(roles, o, workers, queueKey);
  // A worker of `serve` runs the CTFE and the read server; its primary runs the sequencer.
  const channel = isWorker ? workerChannel() : undefined;
  // A fatal sequencer error stops the process with exit code 1: a restart recovers from the
  // database alone (and a supervisor or Kubernetes restarts it at once).
  let onFatal = (): void => {};
  const running = await startLog({
    onFatal: () => onFatal(),
    roles: isWorker ? roles.filter((r) => r !== 'sequencer') : roles,
    configFile: o.config,
    dataDir: o.data,
    listen: o.listen,
    databaseUrl: o.database,
    redisUrl: o.redis,
    redisPrefix: o.redisPrefix,
    queueKey,
    createShards: o.createShards && !isWorker,
    migrate: roles.length === 3 && !isWorker,
    workers,
    collectMetrics: channel?.collectMetrics,
    readGroup: channel,
  });
  if (channel) channel.ready(banner(roles, running), running.metricsJson);
  else process.stdout.write(banner(roles, running));
  await untilStopped(isWorker ? undefined : (why) => process.stderr.write(`${why}: shutting down\n`), (stop) => (onFatal = () => stop('fatal sequencer error')), () => running.close());
}

/**
 * The primary of a group of workers: `serve` runs the sequencer here (one per shard), before
 * the workers start (it migrates and creates shards); `ctfe` only supervises.
 */
async function runPrimary(roles: Role[], o: CommonOptions, workers: number, queueKey: Uint8Array[] | undefined): Promise<void> {
  const log = createLogger({ base: { roles: roles.join(','), process: 'primary' } });
  let onFatal = (): void => {};
  const sequencer = roles.includes('sequencer')
    ? await startLog({
        onFatal: () => onFatal(),
        roles: ['sequencer'],
        configFile: o.config,
        dataDir: o.data,
        databaseUrl: o.database,
        redisUrl: o.redis,
        redisPrefix: o.redisPrefix,
        queueKey,
        createShards: o.createShards,
        migrate: true,
        workers,
      })
    : undefined;
  const metrics = sequencer?.metrics ?? new Metrics({ defaultMetrics: true });
  const primary = startPrimary({
    workers,
    log,
    metrics,
    ownMetrics: sequencer?.metricsJson,
    onReady: (text) => process.stdout.write(`${text}  ${workers} worker processes (--workers, CTLOG_WORKERS); primary pid ${process.pid}\n`),
  });
  const close = async () => {
    await primary.stop();
    await sequencer?.close();
  };
  try {
    await primary.ready;
  } catch (err) {
    await close();
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    return;
  }
  await untilStopped((why) => process.stderr.write(`${why}: shutting down ${workers} workers\n`), (stop) => (onFatal = () => stop('fatal sequencer error')), close);
}

/** Resolves once SIGTERM, SIGINT or a fatal error has stopped the process and close() has run. */
function untilStopped(say: ((why: string) => void) | undefined, onFatal: (stop: (why: string) => void) => void, close: () => Promise<void>): Promise<void> {
  return new Promise<void>((done) => {
    let stopping = false;
    const stop = async (why: string) => {
      if (stopping) return;
      stopping = true;
      say?.(why);
      await close();
      done();
    };
    onFatal((why) => void stop(why));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
  });
}

/**
 * Redis must answer before a process that needs it starts: the queue client would otherwise
 * retry in silence (the sequencer would sit there with no output). One connection attempt,
 * a PING, 5 s at most; the error reaches the CLI, which names --redis and the fix.
 */
async function checkRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // The socket's error (ECONNREFUSED, ENOTFOUND, ...) arrives as an event; connect() then
  // only says "Connection is closed". Throw the cause, once.
  let cause: Error | undefined;
  r.on('error', (err: Error) => (cause ??= err));
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    throw cause ?? err;
  } finally {
    r.disconnect();
  }
}

/**
 * What this process answers, and only that: a URL printed here works on this process. The
 * sequencer serves only the operator endpoints; the CTFE only the submission endpoints.
 */
export function banner(roles: Role[], r: RunningLog): string {
  const name = roles.length === 3 ? 'serve' : roles[0]!;
  const lines = [`ctlog ${name} listening on ${r.url}`];
  for (const s of r.shards) {
    const base = `${r.url}${s.config.prefix}`;
    const id = `log id ${b64(s.logId)}`;
    if (roles.includes('read')) lines.push(`  ${s.config.name.padEnd(10)} ${base}/ct/v1/get-sth   ${id}`);
    else if (roles.includes('ctfe')) lines.push(`  ${s.config.name.padEnd(10)} POST ${base}/ct/v1/add-chain, add-pre-chain   ${id}`);
    else lines.push(`  ${s.config.name.padEnd(10)} ${s.config.state.padEnd(9)} ${id}`);
  }
  lines.push(`  operator endpoints: ${r.url}/metrics /livez /readyz /healthz`);
  return lines.join('\n') + '\n';
}
