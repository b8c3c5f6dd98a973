// The fork guard's durable record (docs/DESIGN.md "Never fork", docs/OPERATIONS.md "Fork guard"): the newest tree head the
// sequencer has published for a shard, kept OUTSIDE the database it writes to, so that a
// database that moves backwards (a failover to a lagging replica, a restored backup) is
// noticed instead of extended into a second tree.
//
// Crash ordering: the sequencer commits a batch to the database, then record()s its head
// here (written to a temporary file, fsynced, renamed over the record, directory fsynced),
// and only then signs and releases the batch's SCTs. So every SCT ever released belongs to
// a tree head that this file holds or that extends it. A crash between the commit and
// record() leaves the database ahead of the file, which the guard accepts as an extension.
//
// The record is the signed tree head itself: load() verifies its signature with the shard's
// key, so a damaged file, or one copied from another shard or key, is refused by name.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { verifySth } from '../signing/index.js';
import { b64, equal, fromB64, hex } from '../util/bytes.js';
import type { TreeHead } from './log-storage.js';

/** The record is missing, unreadable, damaged, or belongs to another shard or key. */
export class WitnessError extends Error {
  override name = 'WitnessError';
}

const FORMAT = 'ctlog-head-witness/v1';

interface WitnessFile {
  format: typeof FORMAT;
  shard: string;
  log_id: string;
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

export class HeadWitness {
  /** The newest head recorded by this instance (or loaded); writes never go below it. */
  private last: TreeHead | undefined;

  constructor(
    /** Absolute path of the record, e.g. <data>/witness/2027h1.json. */
    readonly path: string,
    private readonly shard: { name: string; logId: Uint8Array; publicKey: Uint8Array },
  ) {}

  /**
   * The recorded head, or undefined when there is no record yet. Throws WitnessError for a
   * record that cannot be trusted: unreadable, not this format, another shard or log id, or
   * a signature that does not verify with the shard's key.
   */
  async load(): Promise<TreeHead | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new WitnessError(`couldn't read the fork-guard record ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    const head = this.parse(text);
    if (!this.last || head.treeSize >= this.last.treeSize) this.last = head;
    return head;
  }

  private parse(text: string): TreeHead {
    const bad = (why: string) => new WitnessError(`the fork-guard record ${this.path} ${why}`);
    let w: Partial<WitnessFile>;
    try {
      w = JSON.parse(text) as Partial<WitnessFile>;
    } catch {
      throw bad('is corrupt (not JSON)');
    }
    if (typeof w !== 'object' || w === null || w.format !== FORMAT) throw bad(`is corrupt (format is not ${FORMAT})`);
    if (w.shard !== this.shard.name) throw bad(`belongs to shard ${JSON.stringify(w.shard)}, not ${this.shard.name}`);
    const logId = typeof w.log_id === 'string' ? fromB64(w.log_id) : undefined;
    if (!logId || !equal(logId, this.shard.logId)) throw bad(`belongs to log id ${String(w.log_id)}, not this shard's ${b64(this.shard.logId)} (another key)`);
    const root = typeof w.sha256_root_hash === 'string' ? fromB64(w.sha256_root_hash) : undefined;
    const sig = typeof w.tree_head_signature === 'string' ? fromB64(w.tree_head_signature) : undefined;
    if (!Number.isSafeInteger(w.tree_size) || w.tree_size! < 0 || !Number.isSafeInteger(w.timestamp) || root?.length !== 32 || !sig) {
      throw bad('is corrupt (tree_size, timestamp, sha256_root_hash or tree_head_signature is malformed)');
    }
    const head: TreeHead = { treeSize: w.tree_size!, timestamp: w.timestamp!, rootHash: root, signature: sig };
    let ok = false;
    try {
      ok = verifySth(this.shard.publicKey, head, sig);
    } catch {
      ok = false;
    }
    if (!ok) throw bad(`is corrupt: its tree head signature does not verify with shard ${this.shard.name}'s key`);
    return head;
  }

  /**
   * Durably records a published head. A head no larger than the one recorded is not
   * written (the record only moves forward); another root at the recorded size is refused.
   * When this resolves the record survives a crash or power loss.
   */
  async record(head: TreeHead): Promise<void> {
    // What the file holds now (another sequencer sharing this data directory may have moved
    // it on), then only forward: never a smaller head, never another root at the same size.
    const onDisk = await this.load();
    const last = onDisk && this.last && this.last.treeSize > onDisk.treeSize ? this.last : (onDisk ?? this.last);
    if (last && head.treeSize === last.treeSize && !equal(head.rootHash, last.rootHash)) {
      throw new WitnessError(`refusing to record a tree head of size ${head.treeSize} with root ${b64(head.rootHash)} in ${this.path}: it holds another root at that size (${b64(last.rootHash)})`);
    }
    if (last && head.treeSize <= last.treeSize) return;
    await this.write(head);
  }

  /** Replaces the record whatever it holds: first start, or the operator's explicit override. */
  async overwrite(head: TreeHead): Promise<void> {
    await this.write(head);
  }

  private async write(head: TreeHead): Promise<void> {
    const w: WitnessFile = {
      format: FORMAT,
      shard: this.shard.name,
      log_id: b64(this.shard.logId),
      tree_size: head.treeSize,
      timestamp: head.timestamp,
      sha256_root_hash: b64(head.rootHash),
      tree_head_signature: b64(head.signature),
    };
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    // A unique temporary name: two writers (a second sequencer) never share a half-written file.
    const tmp = `${this.path}.${process.pid}.${hex(randomBytes(4))}.tmp`;
    try {
      const f = await open(tmp, 'w', 0o600);
      try {
        await f.writeFile(JSON.stringify(w, null, 1) + '\n');
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(tmp, this.path);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw new WitnessError(`couldn't write the fork-guard record ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.last = head;
  }
}

/** One-line description of a head for error messages and operator output. */
export function describeHead(h: { treeSize: number; rootHash: Uint8Array; timestamp: number }): string {
  return `size ${h.treeSize}, root ${b64(h.rootHash)}, timestamp ${h.timestamp} (${new Date(h.timestamp).toISOString()})`;
}
