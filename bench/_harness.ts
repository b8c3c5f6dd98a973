// Shared set-up for the benchmarks that need the real services: a fresh MariaDB database,
// a fresh Redis prefix, a shard with a fresh key, `ctlog` child processes, and clean-up.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { deletePrefix } from '../src/queue/delete-prefix.js';
import { loadSigner } from '../src/config/key-file.js';
import { writeKeyFile } from '../src/bin/keys.js';
import { dropMysqlDatabase, ensureMysqlDatabase, migrate, openDatabase } from '../src/storage/database.js';
import { LogStorage, type ShardRecord } from '../src/storage/log-storage.js';
import { createShard } from '../src/storage/shard-init.js';

export const MYSQL_BASE = process.env.CTLOG_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.CTLOG_BENCH_REDIS ?? 'redis://127.0.0.1:6379';
const ROOT = resolve(import.meta.dirname, '..');

export interface BenchEnv {
  dir: string;
  dbUrl: string;
  prefix: string;
  configFile: string;
  /** The queue key the spawned processes read from <dir>/queue.key. */
  queueKey: Uint8Array;
  storage: LogStorage;
  shard: ShardRecord;
  spawnCtlog(args: string[], listen?: string): Promise<{ child: ChildProcess; url: string }>;
  cleanup(): Promise<void>;
}

export async function benchEnv(shardYaml: Record<string, unknown> = {}): Promise<BenchEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-bench-'));
  const dbUrl = `${MYSQL_BASE}/ctlog_bench_${randomBytes(4).toString('hex')}`;
  const prefix = `bench-${randomUUID()}`;
  await ensureMysqlDatabase(dbUrl);
  const storage = new LogStorage(openDatabase({ url: dbUrl, dataDir: dir, poolSize: 8 }));
  await migrate(storage.knex);
  writeKeyFile(join(dir, 'keys', 'bench.pem'));
  // The queue key of the spawned processes (they read <data>/queue.key) and of the benchmark's own CTFE side.
  const queueKey = new Uint8Array(randomBytes(32));
  writeFileSync(join(dir, 'queue.key'), Buffer.from(queueKey).toString('hex'), { mode: 0o600 });
  const shard = await createShard(storage, 'bench', loadSigner(join(dir, 'keys', 'bench.pem')), Date.now());
  const configFile = join(dir, 'shards.yaml');
  const fields = {
    name: 'bench',
    prefix: '/bench',
    not_after_start: '2000-01-01T00:00:00Z',
    not_after_limit: '2100-01-01T00:00:00Z',
    roots: join(ROOT, 'demo', 'demo-root.pem'),
    ...shardYaml,
  };
  writeFileSync(configFile, `shards:\n  - ${Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n    ')}\n`);
  const children: ChildProcess[] = [];
  return {
    dir,
    dbUrl,
    prefix,
    configFile,
    queueKey,
    storage,
    shard,
    spawnCtlog(args, listen = '127.0.0.1:0') {
      const child = spawn(
        process.execPath,
        // CTLOG_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the children.
        [...(process.env.CTLOG_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, 'bin', 'ctlog.mjs'), ...args, '--config', configFile, '--data', dir, '--database', dbUrl, '--redis', REDIS_URL, '--redis-prefix', prefix, '--listen', listen],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CTLOG_LOG_LEVEL: 'warn' } },
      );
      children.push(child);
      child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${args[0]}] ${d}`));
      return new Promise((res, rej) => {
        child.stdout!.on('data', (d: Buffer) => {
          const m = /listening on (\S+)/.exec(d.toString());
          if (m) res({ child, url: m[1]! });
        });
        child.once('exit', (code) => rej(new Error(`ctlog ${args[0]} exited with ${code}`)));
      });
    },
    async cleanup() {
      // SIGTERM first (a clean shutdown, and profiles get written), SIGKILL after 5 s.
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((res) => {
              if (c.exitCode !== null || c.signalCode !== null) return res();
              const t = setTimeout(() => c.kill('SIGKILL'), 5000);
              c.once('exit', () => {
                clearTimeout(t);
                res();
              });
              c.kill('SIGTERM');
            }),
        ),
      );
      await storage.knex.destroy();
      await dropMysqlDatabase(dbUrl);
      await deletePrefix(REDIS_URL, prefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A progress line on stderr, rewritten in place on a terminal. */
export function progress(label: string, done: number, total: number, startedMs: number): void {
  const secs = (performance.now() - startedMs) / 1000;
  const line = `${label}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} (${Math.round(done / Math.max(secs, 0.001)).toLocaleString('en-US')}/s, ${secs.toFixed(0)} s)`;
  if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
  else process.stderr.write(line + '\n');
}
