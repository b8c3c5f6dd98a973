// A MariaDB and a Redis of the fault battery's own, on free ports in a temp directory, so it
// can stop, kill and restart them without touching the shared servers on 3306 and 6379 that
// other tests use. Both are real servers started the way an operator would, never mocks.
// Redis runs as production does here: `--save "" --appendonly no`, so a restart loses the
// queue (the case issue 7 is about).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../e2e/processes.js';
import { track } from './reaper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit code or signal once `p` has exited (at once if it already has). */
function exitOf(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => p.once('exit', () => r()));
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`${what} did not come up within ${timeoutMs} ms:\n${log()}`);
    await sleep(100);
  }
}

/** A private mariadbd: root with an empty password over TCP on 127.0.0.1:port. */
export class PrivateMariaDb {
  private proc: ChildProcess | undefined;
  readonly datadir: string;
  private readonly logFile: string;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    this.datadir = join(dir, 'mariadb');
    this.logFile = join(dir, 'mariadb.log');
  }

  /** Initialises a data directory with mariadb-install-db and starts the server. */
  static async create(dir: string): Promise<PrivateMariaDb> {
    const db = new PrivateMariaDb(dir, await freePort());
    mkdirSync(db.datadir, { recursive: true });
    const r = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${db.datadir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], {
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

/** A private redis-server that keeps nothing on disk: a restart loses every key. */
export class PrivateRedis {
  private proc: ChildProcess | undefined;
  private output = '';

  private constructor(readonly port: number) {}

  static async create(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private pingOk(): boolean {
    return spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG';
  }

  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(this.proc);
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-3000));
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    await waitUntil('private redis-server', () => this.pingOk(), 30_000, () => this.output);
  }

  /** A crash (SIGKILL): with no persistence, every queued job and counter is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill('SIGKILL');
    await exitOf(p);
    this.proc = undefined;
  }
}
