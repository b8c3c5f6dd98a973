// Every server the fault battery starts is a child process; if the battery itself dies (a
// test timeout, Ctrl-C) they must not outlive it, holding ports and a MariaDB data directory.
// track() registers a child; on exit or SIGINT/SIGTERM of this process each one still
// running gets SIGKILL. The orderly path (FaultBattery.close) stops them first.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

export function track(c: ChildProcess): void {
  children.add(c);
  c.once('exit', () => children.delete(c));
  if (hooked) return;
  hooked = true;
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}
