// `ctlog shard prune NAME`: deletes an exported shard's rows and gives their space back.
// Refuses unless a verified export is recorded, and checks that export again first (an
// export that changed since is not something to delete the only other copy for). Then it
// marks the shard pruned, waits for the read servers to move it to the export (they poll
// the state every 2 s), and drops its rows.
import type { LogStorage } from '../storage/log-storage.js';
import { LifecycleError, deleteShardRows, moveState, requireShard, shardBytes, shardLifecycle } from '../storage/shard-lifecycle.js';

/** The verifier's shape (src/read/shard-export.ts verifyExport). */
export type Verifier = (dir: string, o: { publicKey: Uint8Array; logId: Uint8Array; manifestSha256?: Uint8Array; onProgress?: (p: { phase: string; done: number; total: number }) => void }) => Promise<{ entries: number; files: number }>;

export interface PruneReport {
  bytesBefore: number;
  bytesAfter: number;
  scope: string;
  seconds: number;
  alreadyPruned: boolean;
}

export async function runShardPrune(o: {
  storage: LogStorage;
  name: string;
  dataDir?: string;
  verify: Verifier;
  /** Time for read servers to switch to the export before the rows go. @defaultValue 5000 */
  settleMs?: number;
  clock?: () => number;
  print?: (s: string) => void;
  progress?: (p: { phase: string; done: number; total: number }) => void;
}): Promise<PruneReport> {
  const print = o.print ?? ((s: string) => process.stdout.write(s));
  const note = (m: string) => process.stderr.write(`prune ${o.name}: ${m}\n`);
  const shard = await requireShard(o.storage, o.name);
  const lc = await shardLifecycle(o.storage, shard.id);
  if (shard.state !== 'exported' && shard.state !== 'pruned') {
    throw new LifecycleError(`shard ${o.name} is ${shard.state}: prune deletes its rows, so it needs a verified export first; run \`ctlog shard freeze ${o.name}\` (if not frozen) and \`ctlog shard export ${o.name} --out DIR\``);
  }
  if (!lc.exportDir || !lc.exportManifestSha256) throw new LifecycleError(`shard ${o.name} has no verified export recorded; run \`ctlog shard export ${o.name} --out DIR\``);
  await o.verify(lc.exportDir, { publicKey: shard.publicKey, logId: shard.logId, manifestSha256: lc.exportManifestSha256, onProgress: o.progress }).catch((err: Error) => {
    throw new LifecycleError(`shard ${o.name}: its recorded export in ${lc.exportDir} no longer verifies (${err.message}); re-export it before pruning`);
  });
  const t0 = performance.now();
  const before = await shardBytes(o.storage, shard.id, o.dataDir);
  const alreadyPruned = shard.state === 'pruned';
  if (!alreadyPruned) {
    await moveState(o.storage, shard.id, ['exported'], 'pruned', (o.clock ?? Date.now)());
    const settle = o.settleMs ?? 5000;
    if (settle > 0) {
      note(`marked pruned; waiting ${settle / 1000} s for read servers to serve it from ${lc.exportDir}`);
      await new Promise((r) => setTimeout(r, settle));
    }
  }
  await deleteShardRows(o.storage, shard, note);
  const after = await shardBytes(o.storage, shard.id, o.dataDir);
  const seconds = (performance.now() - t0) / 1000;
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  print(`pruned shard ${o.name}: ${before.scope} ${mb(before.bytes)} before, ${mb(after.bytes)} after (${mb(before.bytes - after.bytes)} freed) in ${seconds.toFixed(1)} s; served from ${lc.exportDir}\n`);
  return { bytesBefore: before.bytes, bytesAfter: after.bytes, scope: before.scope, seconds, alreadyPruned };
}
