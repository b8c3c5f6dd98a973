// `ctlog sequencer`: one ShardSequencer per writable shard, fed by the queue. It follows the
// shards' states in the database: a shard that leaves 'active' (a `ctlog shard` command, or
// the automatic rule below, which this service runs) has its sequencer retired within a
// poll interval, without a restart.
import type { ShardConfig } from '../config/config.js';
import type { SubmissionConsumer } from '../queue/queue.js';
import type { LogStorage, TreeHead } from '../storage/log-storage.js';
import { createShard } from '../storage/shard-init.js';
import { DEFAULT_READ_ONLY_GRACE_MS, applyReadOnlyRule, freezeShard, reconcileDeclaredStates } from '../storage/shard-lifecycle.js';
import { watchShardStates, type ShardStateWatch } from '../storage/shard-state-watch.js';
import { openShardSigner } from '../config/key-file.js';
import type { LogSigner } from '../signing/index.js';
import { HeadWitness } from '../storage/head-witness.js';
import { CtError } from '../util/errors.js';
import { semiSyncAck, type ReplicaAck } from '../storage/replication.js';
import { ShardSequencer, type SequencerOptions } from './shard-sequencer.js';

export interface SequencerServiceOptions {
  storage: LogStorage;
  consumer: SubmissionConsumer;
  shards: readonly ShardConfig[];
  clock: () => number;
  /** Create shards that the database does not have yet (explicit: --create, or the embedded first run). */
  createMissing?: boolean;
  /** How often the shards' states are read from the database (ms). @defaultValue 2000 */
  statePollMs?: number;
  onFatal?: SequencerOptions['onFatal'];
  onCommit?: SequencerOptions['onCommit'];
  onBatchError?: SequencerOptions['onBatchError'];
  onEntryRefused?: SequencerOptions['onEntryRefused'];
  /** Reading the states or applying the rule failed (the database is away); retried at the next poll. */
  onStateError?: (err: unknown) => void;
  /** A shard stopped accepting: made read-only (by the rule or a command) or frozen. */
  onStateChange?: (info: { shard: string; state: string; head?: TreeHead; reason: string }) => void;
  /** log.require_replica_ack: SCTs only for commits a replica acknowledged. */
  requireReplicaAck?: boolean;
}

export interface SequencerService {
  sequencers: Map<string, ShardSequencer>;
  /** Reads the states and applies the automatic rule now (the timer does so every statePollMs). */
  poll(): Promise<void>;
  close(): Promise<void>;
}

export async function startSequencers(o: SequencerServiceOptions): Promise<SequencerService> {
  const sequencers = new Map<string, ShardSequencer>();
  const ids = new Map<string, number>();
  // The sequencer is the only process that opens the log keys (a token's sessions included):
  // each shard's once, when it needs it. A start-up that fails part-way ends the process,
  // which releases them.
  const signers = new Map<string, LogSigner>();
  const signerFor = async (cfg: ShardConfig): Promise<LogSigner> => {
    let s = signers.get(cfg.name);
    if (!s) {
      s = await openShardSigner(cfg);
      signers.set(cfg.name, s);
    }
    return s;
  };
  // Checked once at start: a primary that is not set up for it stops the process here.
  const replicaAck: ReplicaAck | undefined = o.requireReplicaAck ? await semiSyncAck(o.storage.knex) : undefined;
  for (const cfg of o.shards) {
    if (!(await o.storage.getShard(cfg.name))) {
      if (!o.createMissing || cfg.state !== 'active') {
        throw new Error(`shard ${cfg.name} is not in the database; create it once with \`ctlog shard create ${cfg.name}\` (never implicitly: a second log under the same key would be a fork)`);
      }
      await createShard(o.storage, cfg.name, await signerFor(cfg), o.clock());
    }
  }
  // A declared state ahead of the database's is applied; one behind it stops the process.
  const { toFreeze } = await reconcileDeclaredStates(o.storage, o.shards, o.clock());
  for (const name of toFreeze) {
    const cfg = o.shards.find((s) => s.name === name)!;
    const r = await freezeShard(o.storage, name, await signerFor(cfg), o.clock);
    o.onStateChange?.({ shard: name, state: 'frozen', head: r.head, reason: 'shards.yaml declares state: frozen' });
  }
  for (const cfg of o.shards) {
    const shard = (await o.storage.getShard(cfg.name))!;
    ids.set(cfg.name, shard.id);
    if (shard.state !== 'active') continue;
    const seq = new ShardSequencer(o.storage, shard, await signerFor(cfg), {
      witness: new HeadWitness(cfg.witnessFile, shard),
      replicaAck,
      poolSize: cfg.poolSize,
      poolPeriodMs: cfg.poolPeriodMs,
      sthIntervalMs: cfg.sthIntervalMs,
      clock: o.clock,
      onFatal: o.onFatal,
      onCommit: o.onCommit,
      onBatchError: o.onBatchError,
      onEntryRefused: o.onEntryRefused,
      onRetired: (r) => o.onStateChange?.({ shard: r.shard, state: 'not active', head: r.head, reason: 'the database refused a commit: the shard is no longer active' }),
    });
    await seq.start();
    sequencers.set(cfg.name, seq);
  }
  // Consume for every configured shard: jobs for a shard that is not active get its 403.
  for (const cfg of o.shards) {
    await o.consumer.consume(cfg.name, (subs, issuers) => {
      const seq = sequencers.get(cfg.name);
      if (!seq || seq.isRetired) return Promise.reject(new CtError(403, 'shard_not_active', `shard ${cfg.name} is not active and accepts no new entries`));
      return seq.add(subs, issuers);
    });
  }

  const rule = async (states: Map<string, string>) => {
    const now = o.clock();
    for (const cfg of o.shards) {
      const seq = sequencers.get(cfg.name);
      const state = states.get(cfg.name);
      if (state === 'active') {
        const id = ids.get(cfg.name)!;
        const grace = cfg.readOnlyGraceMs ?? DEFAULT_READ_ONLY_GRACE_MS;
        if (await applyReadOnlyRule(o.storage, { id, notAfterLimit: cfg.notAfterLimit, graceMs: grace }, now)) {
          o.onStateChange?.({ shard: cfg.name, state: 'read-only', reason: `automatic: ${Math.round(grace / 3600_000)} h past not_after_limit ${new Date(cfg.notAfterLimit).toISOString()}` });
          seq?.retire();
        }
      } else if (state !== undefined && seq && !seq.isRetired) {
        seq.retire();
        o.onStateChange?.({ shard: cfg.name, state, head: seq.treeHead, reason: 'the database says so' });
      }
    }
  };
  const watch: ShardStateWatch = watchShardStates(o.storage, { intervalMs: o.statePollMs, onStates: rule, onError: o.onStateError });
  await watch.poll();
  return {
    sequencers,
    poll: () => watch.poll(),
    async close() {
      watch.stop();
      await o.consumer.close();
      await Promise.allSettled([...sequencers.values()].map((s) => s.stop()));
      await Promise.allSettled([...signers.values()].map((s) => s.close?.()));
    },
  };
}
