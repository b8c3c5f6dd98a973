// The flags the commands share. Each has an environment variable (containers set env, people
// type flags; a flag wins over its variable), a default, and a parser that rejects a malformed
// value at once, naming the flag or variable, instead of failing later with "Invalid URL".
// A command adds only the groups it uses, so `--help` shows exactly what it reads.
import { resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseListen } from '../http/respond.js';

export interface CommonOptions {
  config: string;
  data: string;
  listen: string;
  database: string | undefined;
  redis: string | undefined;
  redisPrefix: string;
  /** File holding the queue key (src/config/queue-key.ts). */
  queueKeyFile: string | undefined;
  /** The queue key itself (hex or base64), from CTLOG_QUEUE_KEY only: never a flag, which `ps` would show. */
  queueKey: string | undefined;
  createShards: boolean;
  /** Worker processes (--workers, CTLOG_WORKERS); undefined: the default (src/bin/run-server.ts). */
  workers: number | undefined;
}

/** A mistake in how the command was called: exit code 2 (see EXIT_CODES). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function databaseUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('expected a URL like mysql://user:password@host:3306/ctlog');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new InvalidArgumentError(`expected mysql:// or mariadb:// (got ${u.protocol}//); leave it unset for the embedded SQLite file`);
  if (!u.pathname.replace(/^\//, '')) throw new InvalidArgumentError('the URL names no database; add one, e.g. mysql://user:password@host:3306/ctlog');
  return v;
}

function redisUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError('expected a URL like redis://host:6379');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InvalidArgumentError(`expected redis:// or rediss:// (got ${u.protocol}//)`);
  return v;
}

function listenAddress(v: string): string {
  try {
    parseListen(v);
  } catch {
    throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:6962 or 0.0.0.0:6962');
  }
  return v;
}

function redisPrefix(v: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(v)) throw new InvalidArgumentError('expected 1-64 characters of letters, digits and _ . : -');
  return v;
}

/** --config and --data: every command that reads shards.yaml. */
export function addConfigOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--config <file>', 'shards.yaml: the shards and log settings').env('CTLOG_CONFIG').default('shards.yaml'))
    .addOption(new Option('--data <dir>', 'the embedded SQLite file and the shard keys (relative key paths in shards.yaml are under it)').env('CTLOG_DATA').default('data'));
}

/** --database: every command that reads or writes the database. */
export function addDatabaseOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--database <url>', 'MariaDB, mysql://user:password@host:3306/db, with ?ssl=true or ?ssl-mode=VERIFY_IDENTITY&ssl-ca=FILE for TLS (default: the embedded SQLite file under --data)').env('CTLOG_DATABASE_URL').argParser(databaseUrl),
  );
}

/** --redis and --redis-prefix: the processes that share the submission queue. */
export function addRedisOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--redis <url>', 'Redis for the submission queue and rate limits, redis://[user:password@]host:6379[/db], or rediss://… for TLS (default: an in-process queue)').env('CTLOG_REDIS_URL').argParser(redisUrl))
    .addOption(
      new Option('--redis-prefix <prefix>', 'the start of every Redis key; give each log sharing one Redis its own')
        .env('CTLOG_REDIS_PREFIX')
        .default('ctlog')
        .argParser(redisPrefix),
    );
}

/**
 * --queue-key-file: the CTFE and the sequencer, whose queue messages it authenticates
 * (src/config/queue-key.ts). The key itself may instead come from CTLOG_QUEUE_KEY, or
 * <data>/queue.key.
 */
export function addQueueKeyOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--queue-key-file <file>', 'the key (hex or base64, 32+ bytes) that authenticates queue messages between ctfe and sequencer; needed with --redis (default: CTLOG_QUEUE_KEY, else <data>/queue.key)').env(
      'CTLOG_QUEUE_KEY_FILE',
    ),
  );
}

/** --listen: the serving processes. Each role has its own default port, so the three can run side by side on one host. */
export function addListenOption(cmd: Command, defaultListen: string, what: string): Command {
  return cmd.addOption(new Option('--listen <host:port>', what).env('CTLOG_LISTEN').default(defaultListen).argParser(listenAddress));
}

/** Most workers one process group may have: beyond the cores there is nothing to gain. */
export const MAX_WORKERS = 256;

function workerCount(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1 || n > MAX_WORKERS) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_WORKERS}`);
  return n;
}

/** --workers: the serving commands that run the CTFE, on every core. */
export function addWorkersOption(
  cmd: Command,
  help = 'processes serving the port, one per core (default: the number of cores, os.availableParallelism(); in a container set it to the CPU limit); the embedded default runs one',
): Command {
  return cmd.addOption(
    new Option('--workers <n>', help)
      .env('CTLOG_WORKERS')
      .argParser(workerCount),
  );
}

export function addCreateShardsOption(cmd: Command): Command {
  return cmd.option('--create-shards', 'create the configured shards missing from the database (with their keys in place); prefer `ctlog shard create --all`', false);
}

/** The options a command was given, with paths made absolute. */
export function commonOptions(o: Record<string, unknown>): CommonOptions {
  return {
    config: resolve(String(o.config ?? 'shards.yaml')),
    data: resolve(String(o.data ?? 'data')),
    listen: String(o.listen ?? '127.0.0.1:6962'),
    database: (o.database as string | undefined) || undefined,
    redis: (o.redis as string | undefined) || undefined,
    redisPrefix: String(o.redisPrefix ?? 'ctlog'),
    queueKeyFile: (o.queueKeyFile as string | undefined) || undefined,
    queueKey: process.env.CTLOG_QUEUE_KEY || undefined,
    createShards: Boolean(o.createShards),
    workers: typeof o.workers === 'number' ? o.workers : undefined,
  };
}
