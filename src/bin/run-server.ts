// Runs one serving process (serve, or one role) until SIGTERM/SIGINT or a fatal sequencer
// error, then drains and resolves; the entry point exits with process.exitCode.
import { MISSING_QUEUE_KEY, loadQueueKey } from '../config/queue-key.js';
import { b64 } from '../util/bytes.js';
import type { CommonOptions } from './options.js';
import { UsageError } from './options.js';
import { startLog, type Role, type RunningLog } from './start-log.js';

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
  if (o.redis) await checkRedis(o.redis);
  // A fatal sequencer error stops the process with exit code 1: a restart recovers from the
  // database alone (and a supervisor or Kubernetes restarts it at once).
  let onFatal = (): void => {};
  const running = await startLog({
    onFatal: () => onFatal(),
    roles,
    configFile: o.config,
    dataDir: o.data,
    listen: o.listen,
    databaseUrl: o.database,
    redisUrl: o.redis,
    redisPrefix: o.redisPrefix,
    queueKey,
    createShards: o.createShards,
    migrate: roles.length === 3,
  });
  process.stdout.write(banner(roles, running));
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = async (why: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${why}: shutting down\n`);
      await running.close();
      done();
    };
    onFatal = () => void stop('fatal sequencer error');
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
