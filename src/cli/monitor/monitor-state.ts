// What the monitor remembers per log across restarts: the last STH it verified (so a log that
// forks while the monitor is down is still caught: the next STH must be consistent with it),
// the compact range of the entries it has checked, and the canary SCTs still waiting for
// inclusion. One JSON file, replaced atomically (write to a temporary file, then rename).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StoredSth {
  treeSize: number;
  timestamp: number;
  /** hex */
  rootHash: string;
  /** base64 of the DigitallySigned */
  signature: string;
}

export interface PendingCanary {
  /** hex MerkleTreeLeaf hash the log must include */
  leafHash: string;
  kind: 'x509' | 'precert';
  /** SCT timestamp (ms): the MMD runs from here. */
  sctTimestamp: number;
  /** An inclusion_overdue alarm was raised for it already. */
  overdue?: boolean;
}

export interface LogState {
  sth?: StoredSth;
  /** Entries verified so far (compact range) and the verified STH being walked towards. */
  entries?: { range: { size: number; nodes: string[] }; target?: StoredSth };
  canaries: PendingCanary[];
}

interface StateFile {
  version: 1;
  /** By log ID (base64), which names a log across URL changes. */
  logs: Record<string, LogState>;
}

export class MonitorState {
  private data: StateFile = { version: 1, logs: {} };

  constructor(private readonly path: string | undefined) {
    if (!path) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // first run
      throw new Error(`couldn't read the monitor state ${path}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: StateFile;
    try {
      parsed = JSON.parse(text) as StateFile;
    } catch {
      throw new Error(`the monitor state ${path} is not JSON; move it away to start over (the monitor then trusts the next STH of every log on first use)`);
    }
    if (parsed.version !== 1 || typeof parsed.logs !== 'object') throw new Error(`the monitor state ${path} has an unknown format (version ${String(parsed.version)})`);
    this.data = parsed;
  }

  log(logId: string): LogState {
    return (this.data.logs[logId] ??= { canaries: [] });
  }

  save(): void {
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 1));
    renameSync(tmp, this.path);
  }
}
