// A Redis of the fault battery's own, on a free port, run as production runs it here
// (`--save "" --appendonly no`): a restart loses the queue, the case issue 7 is about. The
// shared server on 6379 is never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from '../e2e/processes.js';
import { track } from '../helpers/reaper.js';
import { exitOf, waitUntil } from './wait.js';

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
