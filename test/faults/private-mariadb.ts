// A MariaDB of the fault battery's own, on a free port in a temp directory, so it can stop
// and restart it, dump it and restore it, without touching the shared server on 3306 that
// other tests use. A real server started the way an operator would, never a mock.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../e2e/processes.js';
import { track } from './reaper.js';
import { exitOf, waitUntil } from './wait.js';

/** A private mariadbd: root with an empty password over TCP on 127.0.0.1:port. */
export class PrivateMariaDb {
  private proc: ChildProcess | undefined;
  readonly datadir: string;
  private readonly tmpdir: string;
  private readonly logFile: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.datadir = join(dir, 'mariadb');
    this.tmpdir = join(dir, 'mariadb-tmp');
    this.logFile = join(dir, 'mariadb.log');
  }

  /** Initialises a data directory with mariadb-install-db and starts the server. */
  static async create(dir: string): Promise<PrivateMariaDb> {
    const db = new PrivateMariaDb(dir, await freePort());
    mkdirSync(db.datadir, { recursive: true });
    mkdirSync(db.tmpdir, { recursive: true });
    // Its own tmpdir: other tests install and run MariaDB servers at the same time, and
    // nothing of this one should share /tmp with them.
    const r = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${db.datadir}`, `--tmpdir=${db.tmpdir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`mariadb-install-db failed (${r.status ?? r.error?.message}): ${r.stderr}${r.stdout}`);
    await db.start();
    return db;
  }

  /** mysql:// URL of a database on this server. */
  url(database: string): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  private client(args: string[], input?: string): string {
    const r = spawnSync('mariadb', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', ...args], { encoding: 'utf8', input, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`mariadb ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  private pingOk(): boolean {
    return spawnSync('mariadb-admin', ['--no-defaults', '--protocol=tcp', '-h127.0.0.1', `-P${this.port}`, '-uroot', '--connect-timeout=1', 'ping'], { encoding: 'utf8' }).status === 0;
  }

  async start(): Promise<void> {
    const out = openSync(this.logFile, 'a');
    this.proc = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${this.datadir}`,
        `--tmpdir=${this.tmpdir}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(this.dir, 'mariadb.sock')}`,
        `--pid-file=${join(this.dir, 'mariadb.pid')}`,
        '--user=root',
        '--innodb-buffer-pool-size=64M',
        '--max-connections=500',
        '--skip-name-resolve',
      ],
      { stdio: ['ignore', out, out] },
    );
    track(this.proc);
    closeSync(out);
    await waitUntil('private mariadbd', () => this.pingOk(), 60_000, () => this.log());
  }

  /** A clean shutdown (SIGTERM), as `systemctl stop` does. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    await exitOf(p);
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
      return readFileSync(this.logFile, 'utf8').slice(-3000);
    } catch {
      return '';
    }
  }
}

