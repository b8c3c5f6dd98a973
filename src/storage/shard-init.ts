// Creating a shard: an explicit act (`ctlog shard create`, or the embedded default's first
// run), never a side effect of starting a process against an empty database. The new shard
// starts with a signed STH of the empty tree (RFC 6962 §2.1: MTH({}) = SHA-256()).
import { EMPTY_ROOT } from '../merkle/index.js';
import type { LogSigner } from '../signing/index.js';
import type { LogStorage, ShardRecord, TreeHead } from './log-storage.js';

export async function createShard(storage: LogStorage, name: string, signer: LogSigner, now: number): Promise<ShardRecord> {
  const head: TreeHead = { treeSize: 0, timestamp: now, rootHash: EMPTY_ROOT, signature: new Uint8Array() };
  head.signature = await signer.signSth(head);
  return storage.createShard({ name, logId: signer.logId, publicKey: signer.publicKeySpki, head, now });
}
