// Waiting helpers for the private servers: a child's exit, and a condition polled until true.
import type { ChildProcess } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `p` has exited (at once if it already has). */
export function exitOf(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((r) => p.once('exit', () => r()));
}

export async function waitUntil(what: string, ok: () => boolean, timeoutMs: number, log: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`${what} did not come up within ${timeoutMs} ms:\n${log()}`);
    await sleep(100);
  }
}

