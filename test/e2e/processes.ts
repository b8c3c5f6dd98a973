// Child processes for the end-to-end tests: `node bin/ctlog.mjs <command>` exactly as an
// operator runs it. Every child started here is registered in a ProcessGroup whose stop()
// kills it (SIGTERM, then SIGKILL after a grace period), so after() leaves nothing running
// even when a test fails half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const CTLOG = resolve(REPO, 'bin/ctlog.mjs');

export interface Child {
  proc: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

export interface Server extends Child {
  /** The URL from the `ctlog <cmd> listening on URL` line. */
  url: string;
}

export class ProcessGroup {
  private readonly children = new Set<Child>();

  /** Starts any program; its output is kept for failure messages. */
  start(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
    const proc = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? 'unknown')));
    proc.once('error', (err) => (out += `\nspawn error: ${err.message}`));
    const child: Child = { proc, output: () => out, exited };
    this.children.add(child);
    void exited.then(() => this.children.delete(child));
    return child;
  }

  /** Starts a serving ctlog command and waits for its listening line. */
  async serve(args: string[], timeoutMs = 60_000): Promise<Server> {
    const child = this.start(process.execPath, [CTLOG, ...args]);
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`ctlog ${args[0]} printed no listening line within ${timeoutMs} ms; output:\n${child.output()}`)), timeoutMs);
      const onData = () => {
        const m = /ctlog \S+ listening on (http:\/\/\S+)/.exec(child.output());
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]!);
        }
      };
      child.proc.stdout!.on('data', onData);
      void child.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`ctlog ${args.join(' ')} exited (${code}) before listening; output:\n${child.output()}`));
      });
    });
    return { ...child, url };
  }

  /** Runs a one-shot ctlog command to completion; rejects on a non-zero exit. */
  async run(args: string[], timeoutMs = 60_000): Promise<string> {
    const child = this.start(process.execPath, [CTLOG, ...args]);
    let out = '';
    child.proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), timeoutMs);
    const code = await child.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`ctlog ${args.join(' ')} exited with ${code}; output:\n${child.output()}`);
    return out;
  }

  /** Stops every child still running: SIGTERM, then SIGKILL after graceMs. Never throws. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c, graceMs)));
  }
}

/** Stops one child: SIGTERM, then SIGKILL after graceMs; resolves once it has exited. */
export async function stopChild(c: Child, graceMs = 5_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
  await c.exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1 (for configs that must name their own URL, e.g. log.base_url). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((r, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => r(port));
    });
  });
}
