// MariaDB servers of a test's own, replicating the way docs/OPERATIONS.md "Replication and
// failover" sets production up: a primary with the binary log and semi-synchronous
// replication (AFTER_SYNC), and replicas that acknowledge. Each server has its own datadir
// and port under a temp directory; the shared server on 3306 is never touched. Tests kill,
// stop and promote them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class MariaDbServer {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    readonly serverId: number,
    private readonly ackTimeoutMs: number,
  ) {}

  /** A fresh server (mariadb-install-db), started, ready for replication in either role. */
  static async create(root: string, name: string, serverId: number, ackTimeoutMs: number): Promise<MariaDbServer> {
    const s = new MariaDbServer(name, join(root, name), await freePort(), serverId, ackTimeoutMs);
    mkdirSync(join(s.dir, 'tmp'), { recursive: true });
    // Its own tmpdir: other tests install and run MariaDB servers at the same time.
    const r = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${join(s.dir, 'data')}`, `--tmpdir=${join(s.dir, 'tmp')}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr}${r.stdout}`);
    await s.start();
    return s;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'server.log'), 'a');
    // Every server can be promoted: binary log with replicas' updates, semi-sync on both sides.
    this.proc = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${join(this.dir, 'data')}`,
        `--tmpdir=${join(this.dir, 'tmp')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'sock')}`,
        `--pid-file=${join(this.dir, 'pid')}`,
        '--user=root',
        '--skip-name-resolve',
        '--innodb-buffer-pool-size=64M',
        '--max-connections=300',
        '--log-bin=binlog',
        `--server-id=${this.serverId}`,
        '--binlog-format=ROW',
        '--log-slave-updates=ON',
        '--rpl-semi-sync-master-enabled=ON',
        '--rpl-semi-sync-master-wait-point=AFTER_SYNC',
        `--rpl-semi-sync-master-timeout=${this.ackTimeoutMs}`,
        '--rpl-semi-sync-slave-enabled=ON',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const until = Date.now() + 60_000;
    while (!this.ping()) {
      if (Date.now() > until || this.proc.exitCode !== null) throw new Error(`mariadbd ${this.name} did not start:\n${this.log()}`);
      await sleep(100);
    }
  }

  private ping(): boolean {
    return spawnSync('mariadb-admin', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', '--connect-timeout=1', 'ping'], { encoding: 'utf8' }).status === 0;
  }

  /** Runs SQL through the mariadb client; returns its tab-separated output. */
  sql(statements: string): string {
    const r = spawnSync('mariadb', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', '-N', '-B', '-e', statements], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${this.name}: ${statements}: ${r.stderr}`);
    return r.stdout;
  }

  /** Makes this server a replica of `primary` (GTID positions), acknowledging semi-synchronously. */
  replicate(primary: MariaDbServer): void {
    this.sql(`STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos; START SLAVE;`);
  }

  /** The primary's semi-sync view: how many replicas acknowledge, and whether it is on. */
  semiSync(): { clients: number; on: boolean } {
    const rows = new Map(
      this.sql("SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_clients','Rpl_semi_sync_master_status')")
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    return { clients: Number(rows.get('Rpl_semi_sync_master_clients')), on: rows.get('Rpl_semi_sync_master_status') === 'ON' };
  }

  /** Waits until `n` replicas acknowledge this primary. */
  async waitForReplicas(n: number, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.semiSync().clients < n) {
      if (Date.now() > until) throw new Error(`${this.name}: ${n} replica(s) did not connect`);
      await sleep(100);
    }
  }

  /** A crash: SIGKILL, nothing flushed beyond what InnoDB and the binary log already made durable. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(t);
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }
}

/** A primary and `replicas` replicas of it, semi-synchronous; close() stops and removes them all. */
export async function replicatedSet(replicas: number, ackTimeoutMs = 500): Promise<{ primary: MariaDbServer; replicas: MariaDbServer[]; close(): Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), 'ctlog-repl-'));
  const all: MariaDbServer[] = [];
  try {
    const primary = await MariaDbServer.create(root, 'primary', 1, ackTimeoutMs);
    all.push(primary);
    const rs: MariaDbServer[] = [];
    for (let i = 0; i < replicas; i++) {
      const r = await MariaDbServer.create(root, `replica${i + 1}`, i + 2, ackTimeoutMs);
      all.push(r);
      r.replicate(primary);
      rs.push(r);
    }
    await primary.waitForReplicas(replicas);
    return {
      primary,
      replicas: rs,
      async close() {
        await Promise.allSettled(all.map((s) => s.stop()));
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await Promise.allSettled(all.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}
