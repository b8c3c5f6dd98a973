// `ctlog shard freeze NAME`: the shard stops taking entries, its final STH is signed and
// recorded, and it never changes again (storage/shard-lifecycle.ts freezeShard does the work).
import { existsSync } from 'node:fs';
import type { LogConfig } from '../config/config.js';
import { openShardSigner } from '../config/key-file.js';
import type { LogStorage } from '../storage/log-storage.js';
import { LifecycleError, freezeShard, requireShard } from '../storage/shard-lifecycle.js';
import { b64 } from '../util/bytes.js';

export async function runShardFreeze(o: { storage: LogStorage; config: LogConfig; name: string; settleMs?: number; clock?: () => number; out?: (s: string) => void }): Promise<void> {
  const out = o.out ?? ((s: string) => process.stdout.write(s));
  await requireShard(o.storage, o.name);
  const cfg = o.config.shards.find((s) => s.name === o.name);
  if (!cfg) throw new LifecycleError(`shard freeze ${o.name}: the shard is not in ${o.config.file}; freezing signs a final STH with its key, which the config names`);
  const rec = (await o.storage.getShard(o.name))!;
  if (rec.state === 'active' || rec.state === 'read-only') {
    if (!cfg.pkcs11 && !existsSync(cfg.keyFile)) throw new LifecycleError(`shard freeze ${o.name}: key file ${cfg.keyFile} does not exist; the final STH must be signed with the shard's key`);
  }
  // A key in a PKCS#11 token: one session signs the final STH, closed right after.
  const signer = rec.state === 'active' || rec.state === 'read-only' ? await openShardSigner(cfg, { sessions: 1 }) : undefined;
  const r = await freezeShard(o.storage, o.name, signer, o.clock ?? Date.now, {
    // Sequencers poll the state every 2 s: let them retire before the final STH is signed.
    settleMs: o.settleMs ?? 3000,
    onProgress: (m) => process.stderr.write(`${m}\n`),
  }).finally(() => signer?.close?.());
  const h = r.head;
  out(
    `${r.changed ? 'froze' : 'already frozen:'} shard ${o.name} (state ${(await o.storage.getShard(o.name))!.state})\n` +
      `final STH: tree_size ${h.treeSize}, timestamp ${h.timestamp} (${new Date(h.timestamp).toISOString()}), root ${b64(h.rootHash)}\n`,
  );
}
