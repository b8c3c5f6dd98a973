// MariaDB servers of a test's own, the one launcher for every test and benchmark that needs
// one it can stop, kill, freeze, dump or promote without touching the shared server on 3306.
// Each server has its own datadir, tmpdir, socket, pid file and port under a directory of
// its own, and is registered with the reaper (reaper.ts) so that it does not outlive the
// test that started it. A real server started the way an operator would, never a mock.
//
// With `replication`, a server is set up the way docs/OPERATIONS.md "Replication and
// failover" sets production up: the binary log with replicas' updates and semi-synchronous
// replication (AFTER_SYNC) on both sides, so that any of them can be promoted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/processes.js';
import { track } from './reaper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MariaDbOptions {
  /** Primary or replica of a semi-synchronous set (any of them can be promoted). */
  replication?: { serverId: number; ackTimeoutMs: number };
  /** @defaultValue 500 */
  maxConnections?: number;
}

/** A private mariadbd: root with an empty password over TCP on 127.0.0.1:port. */
export class MariaDbServer {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    private readonly o: MariaDbOptions,
  ) {}

  /** A fresh server in `<root>/<name>` (mariadb-install-db), started. */
  static async create(root: string, name: string, o: MariaDbOptions = {}): Promise<MariaDbServer> {
    const s = new MariaDbServer(name, join(root, name), await freePort(), o);
    mkdirSync(join(s.dir, 'tmp'), { recursive: true });
    // Its own tmpdir: other tests install and run MariaDB servers at the same time. Not
    // spawnSync: a replicated set installs its servers side by side.
    const install = spawn('mariadb-install-db', ['--no-defaults', `--datadir=${join(s.dir, 'data')}`, `--tmpdir=${join(s.dir, 'tmp')}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(install);
    let out = '';
    install.stdout.on('data', (d: Buffer) => (out += d.toString()));
    install.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | string>((r) => install.once('exit', (c, sig) => r(c ?? sig ?? 'unknown')));
    if (code !== 0) throw new Error(`mariadb-install-db for ${name} failed (${code}): ${out.slice(-3000)}`);
    await s.start();
    return s;
  }

  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'server.log'), 'a');
    const r = this.o.replication;
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
        `--max-connections=${this.o.maxConnections ?? 500}`,
        ...(r
          ? [
              '--log-bin=binlog',
              `--server-id=${r.serverId}`,
              '--binlog-format=ROW',
              '--log-slave-updates=ON',
              '--rpl-semi-sync-master-enabled=ON',
              '--rpl-semi-sync-master-wait-point=AFTER_SYNC',
              `--rpl-semi-sync-master-timeout=${r.ackTimeoutMs}`,
              '--rpl-semi-sync-slave-enabled=ON',
            ]
          : []),
      ],
      { stdio: ['ignore', log, log] },
    );
    track(this.proc);
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

  private client(args: string[], input?: string): string {
    const r = spawnSync('mariadb', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', ...args], { encoding: 'utf8', input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`${this.name}: mariadb ${args.join(' ').slice(0, 300)} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** Runs SQL through the mariadb client; returns its tab-separated output. */
  sql(statements: string): string {
    return this.client(['-N', '-B', '-e', statements]);
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

  /**
   * A replica stops receiving (STOP SLAVE IO_THREAD) and applies all it has received, so that
   * what it holds stays put while it is looked at; START SLAVE resumes it.
   */
  async stopReceiving(timeoutS = 30): Promise<void> {
    this.sql('STOP SLAVE IO_THREAD');
    const pos = /Gtid_IO_Pos:\s*(\S*)/.exec(this.client(['-e', 'SHOW SLAVE STATUS\\G']))?.[1] ?? '';
    if (pos && this.sql(`SELECT MASTER_GTID_WAIT('${pos}', ${timeoutS})`).trim() !== '0') throw new Error(`${this.name}: did not apply what it received (${pos}) within ${timeoutS} s`);
  }

  /** A crash: SIGKILL, nothing flushed beyond what InnoDB and the binary log already made durable. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** SIGSTOP: the server hangs (connections stay open, nothing is answered) until resume(). */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  resume(): void {
    this.proc?.kill('SIGCONT');
  }

  /** A clean shutdown (SIGTERM), as `systemctl stop` does; SIGKILL after 30 s. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGCONT'); // a frozen server would never see the SIGTERM
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(t);
    this.proc = undefined;
  }

  /** mariadb-dump of one database into `file` (a consistent snapshot, taken under load). */
  dump(database: string, file: string): void {
    const r = spawnSync('mariadb-dump', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', '--single-transaction', '--quick', '--hex-blob', database], {
      maxBuffer: 1 << 30,
    });
    if (r.status !== 0) throw new Error(`mariadb-dump ${database} failed: ${r.stderr}`);
    writeFileSync(file, r.stdout);
  }

  /** Replaces the database's tables with those of a dump (what a failover to that replica does). */
  restore(database: string, file: string): void {
    this.client([database], readFileSync(file, 'utf8'));
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }
}

export interface ReplicatedSet {
  primary: MariaDbServer;
  replicas: MariaDbServer[];
  /** Stops every server and removes their directory. */
  close(): Promise<void>;
}

/**
 * A primary and `replicas` replicas of it, semi-synchronous, under `parent` (default: a new
 * temp directory); close() stops and removes them all.
 */
export async function replicatedSet(replicas: number, ackTimeoutMs = 500, parent?: string): Promise<ReplicatedSet> {
  const root = mkdtempSync(join(parent ?? tmpdir(), 'ctlog-repl-'));
  const started: MariaDbServer[] = [];
  const close = async () => {
    await Promise.allSettled(started.map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const created = await Promise.allSettled(
      Array.from({ length: replicas + 1 }, (_, i) => MariaDbServer.create(root, i === 0 ? 'primary' : `replica${i}`, { replication: { serverId: i + 1, ackTimeoutMs } })),
    );
    for (const c of created) if (c.status === 'fulfilled') started.push(c.value);
    const failed = created.find((c) => c.status === 'rejected');
    if (failed) throw failed.reason;
    const [primary, ...rs] = started as [MariaDbServer, ...MariaDbServer[]];
    for (const r of rs) r.replicate(primary);
    await primary.waitForReplicas(replicas);
    return { primary, replicas: rs, close };
  } catch (err) {
    await close();
    throw err;
  }
}
