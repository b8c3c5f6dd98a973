// `ctlog sequencer`: one ShardSequencer per writable shard, fed by the queue.
import type { ShardConfig } from '../config/config.js';
import type { SubmissionConsumer } from '../queue/queue.js';
import type { LogStorage } from '../storage/log-storage.js';
import { createShard } from '../storage/shard-init.js';
import { openShardSigner } from '../config/key-file.js';
import type { LogSigner } from '../signing/index.js';
import { HeadWitness } from '../storage/head-witness.js';
import { semiSyncAck, type ReplicaAck } from '../storage/replication.js';
import { ShardSequencer, type SequencerOptions } from './shard-sequencer.js';

export interface SequencerServiceOptions {
  storage: LogStorage;
  consumer: SubmissionConsumer;
  shards: readonly ShardConfig[];
  clock: () => number;
  /** Create shards that the database does not have yet (explicit: --create, or the embedded first run). */
  createMissing?: boolean;
  onFatal?: SequencerOptions['onFatal'];
  onCommit?: SequencerOptions['onCommit'];
  onBatchError?: SequencerOptions['onBatchError'];
  /** log.require_replica_ack: SCTs only for commits a replica acknowledged. */
  requireReplicaAck?: boolean;
}

export interface SequencerService {
  sequencers: Map<string, ShardSequencer>;
  close(): Promise<void>;
}

export async function startSequencers(o: SequencerServiceOptions): Promise<SequencerService> {
  const sequencers = new Map<string, ShardSequencer>();
  // The sequencer is the only process that opens the log keys (a token's sessions included).
  // A start-up that fails part-way ends the process, which releases them.
  const signers: LogSigner[] = [];
  // Checked once at start: a primary that is not set up for it stops the process here.
  const replicaAck: ReplicaAck | undefined = o.requireReplicaAck ? await semiSyncAck(o.storage.knex) : undefined;
  for (const cfg of o.shards) {
    if (cfg.state !== 'active') continue;
    const signer = await openShardSigner(cfg);
    signers.push(signer);
    let shard = await o.storage.getShard(cfg.name);
    if (!shard) {
      if (!o.createMissing) {
        throw new Error(`shard ${cfg.name} is not in the database; create it once with \`ctlog shard create ${cfg.name}\` (never implicitly: a second log under the same key would be a fork)`);
      }
      shard = await createShard(o.storage, cfg.name, signer, o.clock());
    }
    if (shard.state !== 'active') continue;
    const seq = new ShardSequencer(o.storage, shard, signer, {
      witness: new HeadWitness(cfg.witnessFile, shard),
      replicaAck,
      poolSize: cfg.poolSize,
      poolPeriodMs: cfg.poolPeriodMs,
      sthIntervalMs: cfg.sthIntervalMs,
      clock: o.clock,
      onFatal: o.onFatal,
      onCommit: o.onCommit,
      onBatchError: o.onBatchError,
    });
    await seq.start();
    sequencers.set(cfg.name, seq);
    await o.consumer.consume(cfg.name, (subs, issuers) => seq.add(subs, issuers));
  }
  return {
    sequencers,
    async close() {
      await o.consumer.close();
      await Promise.allSettled([...sequencers.values()].map((s) => s.stop()));
      await Promise.allSettled(signers.map((s) => s.close?.()));
    },
  };
}
