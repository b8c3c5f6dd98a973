// Creating a shard: an explicit act (`ctlog shard create`, or the embedded default's first
// run), never a side effect of starting a process against an empty database. The new shard
// starts with a signed STH of the empty tree (RFC 6962 §2.1: MTH({}) = SHA-256()).
import { EMPTY_ROOT } from '../merkle/index.js';
import type { LogSigner } from '../signing/index.js';
import type { LogStorage, ShardRecord, TreeHead } from './log-storage.js';
import { ensureShardPartitions } from './shard-lifecycle.js';

export async function createShard(storage: LogStorage, name: string, signer: LogSigner, now: number): Promise<ShardRecord> {
  const head: TreeHead = { treeSize: 0, timestamp: now, rootHash: EMPTY_ROOT, signature: new Uint8Array() };
  head.signature = await signer.signSth(head);
  // MariaDB: the shard's rows live in partitions of their own (a prune drops them). DDL
  // cannot run inside the creating transaction, so the partitions are added first, for the
  // id the shard is about to get; a shard that exists already fails below as before.
  if (storage.dialect === 'mysql' && !(await storage.getShard(name))) {
    const max = await storage.knex('shards').max({ m: 'id' }).first();
    await ensureShardPartitions(storage.knex, Number(max?.m ?? 0) + 1);
  }
  return storage.createShard({ name, logId: signer.logId, publicKey: signer.publicKeySpki, head, now });
}
