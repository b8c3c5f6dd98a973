// The fault battery's stand-in for Kubernetes: runs `node bin/ctlog.mjs <role>` as an operator
// does and restarts a process that exits, after a short delay, whatever the exit code. One
// exception, on purpose: a sequencer that stops with a fork-guard error is NOT restarted (a
// restart loop would hide the one error an operator must act on); it is recorded as halted.
import { spawn, type ChildProcess } from 'node:child_process';
import { CTLOG } from '../e2e/processes.js';
import { track } from '../helpers/reaper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OUTPUT_KEEP = 20_000;

export interface ExitRecord {
  at: number;
  code: number | string;
  /** The last lines the process printed (stderr and stdout). */
  tail: string;
}

export class Supervised {
  private proc: ChildProcess | undefined;
  private output = '';
  private wanted = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set when the process printed its listening line; cleared when it exits. */
  up = false;
  /** Automatic restarts (not counting start/resume by the battery itself). */
  restarts = 0;
  exits: ExitRecord[] = [];
  /** The fork-guard error a sequencer stopped with; it is not restarted until resume(). */
  halted: ExitRecord | undefined;
  private readyWaiters: Array<{ ok: () => void; halted: (err: Error) => void }> = [];

  constructor(
    readonly name: string,
    private readonly args: string[],
    private opts: { restartDelayMs: number; env?: NodeJS.ProcessEnv },
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts the process (and keeps it running) and waits for its listening line. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.wanted = true;
    this.halted = undefined;
    if (!this.proc) this.spawn();
    await this.waitUp(timeoutMs);
  }

  /** Resolves once the process is listening; rejects after timeoutMs, or at once when it is halted. */
  waitUp(timeoutMs: number): Promise<void> {
    if (this.up) return Promise.resolve();
    if (this.halted) return Promise.reject(new Error(`${this.name} halted: ${this.halted.tail.slice(-1000)}`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const exits = this.exits.slice(-3).map((e) => `exited with ${e.code}: ${e.tail.slice(-1500)}`);
        reject(new Error(`${this.name} not listening within ${timeoutMs} ms (${this.exits.length} exits); ${exits.join('\n')}\nlast output:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      this.readyWaiters.push({
        ok: () => {
          clearTimeout(t);
          resolve();
        },
        halted: (err) => {
          clearTimeout(t);
          reject(err);
        },
      });
    });
  }

  private spawn(): void {
    this.output = '';
    const proc = spawn(process.execPath, [CTLOG, ...this.args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CTLOG_LOG_LEVEL: 'warn', ...this.opts.env } });
    this.proc = proc;
    track(proc);
    const onData = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-OUTPUT_KEEP);
      if (!this.up && /ctlog \S+ listening on http:\/\//.test(this.output)) {
        this.up = true;
        for (const w of this.readyWaiters.splice(0)) w.ok();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('error', (err) => (this.output += `\nspawn error: ${err.message}`));
    proc.once('exit', (code, sig) => {
      const rec = { at: Date.now(), code: code ?? sig ?? 'unknown', tail: this.output.slice(-4000) };
      this.proc = undefined;
      this.up = false;
      if (!this.wanted) return;
      this.exits.push(rec);
      if (/fork guard/i.test(rec.tail)) {
        this.halted = rec;
        for (const w of this.readyWaiters.splice(0)) w.halted(new Error(`${this.name} halted: ${rec.tail.slice(-1000)}`));
        return;
      }
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.wanted || this.proc) return;
        this.restarts++;
        this.spawn();
      }, this.opts.restartDelayMs);
    });
  }

  /** kill -9; the supervisor restarts it after its delay. */
  kill9(): void {
    this.proc?.kill('SIGKILL');
  }

  /** Stops it for good (SIGTERM, then SIGKILL after graceMs) until start() is called again. */
  async stop(graceMs = 10_000): Promise<void> {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const p = this.proc;
    if (!p) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }

  /**
   * Stops it and starts it again with `env` added to its environment: how an operator moves
   * a process to another database (a new CTLOG_DATABASE_URL and a rollout). Not counted as an
   * automatic restart.
   */
  async restart(env: NodeJS.ProcessEnv, opts: { graceMs?: number; timeoutMs?: number } = {}): Promise<void> {
    await this.stop(opts.graceMs);
    this.opts = { ...this.opts, env: { ...this.opts.env, ...env } };
    await this.start(opts.timeoutMs);
  }

  /** Waits until the process has exited or `ms` passed. */
  async settle(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.proc && Date.now() < until) await sleep(50);
  }

  lastOutput(): string {
    return this.output.slice(-3000);
  }
}
