// Starts the whole log the three ways an operator runs it, as child processes of
// `node bin/ctlog.mjs`: (a) `serve` on the embedded default, (b) `serve` on MariaDB + Redis,
// (c) separate `sequencer`, `ctfe` and `read` processes on MariaDB + Redis. Each gets a
// temporary --data directory, a shards.yaml with two shards ("old" for the real fixtures'
// NotAfter, "now" for generated certificates) and, on MariaDB, a fresh database and Redis prefix.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropMysqlDatabase } from '../../src/storage/database.js';
import { MYSQL_BASE, REDIS_URL, freshPrefix } from '../helpers/services.js';
import { writeRoots } from './corpus.js';
import type { Endpoints, ShardInfo } from './log-checks.js';
import { ProcessGroup, type Server } from './processes.js';

export type Mode = 'embedded serve' | 'serve on MariaDB + Redis' | 'sequencer + ctfe + read on MariaDB + Redis';
export const MODES: Mode[] = ['embedded serve', 'serve on MariaDB + Redis', 'sequencer + ctfe + read on MariaDB + Redis'];

export const SHARD_WINDOWS = {
  old: { start: '2017-01-01T00:00:00Z', limit: '2026-01-01T00:00:00Z' },
  now: { start: '2026-01-01T00:00:00Z', limit: '2030-01-01T00:00:00Z' },
} as const;

export interface Deployment extends Endpoints {
  mode: Mode;
  dir: string;
  /** Flags every ctlog command of this deployment takes (config, data, database). */
  common: string[];
  servers: Server[];
  group: ProcessGroup;
  /** Raw `ctlog loglist` output. */
  loglist: string;
  close(): Promise<void>;
}

export function shardsYaml(rootsDir: string, baseUrl: string): string {
  const shard = (name: keyof typeof SHARD_WINDOWS) => `  - name: ${name}
    prefix: /${name}
    not_after_start: ${SHARD_WINDOWS[name].start}
    not_after_limit: ${SHARD_WINDOWS[name].limit}
    # The old shard's window closed long ago: keep it active (it takes the real old certificates)
    # instead of letting the automatic rule make it read-only a week after its limit.
    read_only_grace_days: 3650
`;
  return `log:
  base_url: ${baseUrl}
  operator: ctlog e2e
  # The test machine is shared: a CPU-starved process must not shed the corpus (shedding is
  # tested in test/ctfe/admission.test.ts).
  admission: { shed_lag_ms: 60000, max_queue_delay_ms: 600000, max_latency_ms: 600000 }
defaults:
  roots: ${rootsDir}
  pool_size: 200
  pool_period_ms: 10
  get_entries_max: 100
  submission_deadline_ms: 30000
  sth_interval_ms: 500
shards:
${shard('old')}${shard('now')}`;
}

/** Writes config + roots into a fresh temp dir. */
export function prepareDir(rsaRootPem: string, baseUrl = 'http://127.0.0.1:6962'): { dir: string; config: string; data: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-e2e-'));
  const roots = join(dir, 'roots');
  const data = join(dir, 'data');
  mkdirSync(roots);
  mkdirSync(join(data, 'keys'), { recursive: true });
  writeRoots(roots, rsaRootPem);
  const config = join(dir, 'shards.yaml');
  writeFileSync(config, shardsYaml(roots, baseUrl));
  // The queue key the split processes share (they share this data directory).
  writeFileSync(join(data, 'queue.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
  return { dir, config, data };
}

/** Shards as `ctlog loglist` publishes them: key and URL of each. */
export function shardsFromLogList(loglist: string): Endpoints['shards'] {
  const list = JSON.parse(loglist) as { operators: Array<{ logs: Array<{ key: string; url: string; log_id: string }> }> };
  const logs = list.operators.flatMap((o) => o.logs);
  const find = (name: string): ShardInfo => {
    const l = logs.find((x) => new URL(x.url).pathname === `/${name}/`);
    if (!l) throw new Error(`loglist has no shard /${name}/: ${loglist}`);
    return { name, prefix: `/${name}`, spki: new Uint8Array(Buffer.from(l.key, 'base64')) };
  };
  return { old: find('old'), now: find('now') };
}

export async function startDeployment(mode: Mode, rsaRootPem: string): Promise<Deployment> {
  const group = new ProcessGroup();
  const { dir, config, data } = prepareDir(rsaRootPem);
  const mysql = mode !== 'embedded serve';
  const dbUrl = mysql ? `${MYSQL_BASE}/ctlog_e2e_${randomBytes(6).toString('hex')}` : undefined;
  const prefix = mysql ? freshPrefix() : undefined;
  const common = ['--config', config, '--data', data, ...(dbUrl ? ['--database', dbUrl] : [])];
  const queue = prefix ? ['--redis', REDIS_URL, '--redis-prefix', prefix.prefix] : [];
  const listen = ['--listen', '127.0.0.1:0'];
  const close = async () => {
    await group.stop();
    if (dbUrl) await dropMysqlDatabase(dbUrl).catch(() => undefined);
    await prefix?.delete().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let servers: Server[];
    let submitUrl: string;
    let readUrl: string;
    if (mysql) for (const s of ['old', 'now']) await group.run(['keygen', '--out', join(data, 'keys', `${s}.pem`)]);
    if (mode === 'embedded serve') {
      servers = [await group.serve(['serve', ...common, ...listen])];
      submitUrl = readUrl = servers[0]!.url;
    } else if (mode === 'serve on MariaDB + Redis') {
      servers = [await group.serve(['serve', ...common, ...queue, '--create-shards', ...listen])];
      submitUrl = readUrl = servers[0]!.url;
    } else {
      await group.run(['migrate', ...common]);
      for (const s of ['old', 'now']) await group.run(['shard', 'create', s, ...common]);
      const sequencer = await group.serve(['sequencer', ...common, ...queue, ...listen]);
      const [ctfe, read] = await Promise.all([group.serve(['ctfe', ...common, ...queue, ...listen]), group.serve(['read', ...common, ...queue, ...listen])]);
      servers = [sequencer, ctfe, read];
      submitUrl = ctfe.url;
      readUrl = read.url;
    }
    const loglist = await group.run(['loglist', ...common]);
    return { mode, dir, common, servers, group, loglist, submitUrl, readUrl, shards: shardsFromLogList(loglist), close };
  } catch (err) {
    await close();
    throw err;
  }
}
