// `ctlog shard witness NAME [--adopt-database-head]`: the operator's view of, and the one
// deliberate override for, the fork guard (docs/OPERATIONS.md "Fork guard").
//
// Without the flag it only reports: the head recorded in the sequencer's data directory, the
// database's head, and whether the sequencer would extend it. With the flag it replaces the
// record by the database's head. That is the explicit act the guard asks for when the
// operator has established that the database holds every head the shard published (a new
// data directory for an existing shard; a record lost with its disk). Run it with the
// sequencer stopped, and never to get past a rollback: that would sign a second tree.
import type { ShardConfig } from '../config/config.js';
import { checkForkGuard, ForkGuardError } from '../storage/fork-guard.js';
import { describeHead, HeadWitness, WitnessError } from '../storage/head-witness.js';
import type { LogStorage } from '../storage/log-storage.js';

export interface WitnessReport {
  /** Lines for the operator. */
  text: string;
  /** True when the sequencer would start on this database (after the command, with --adopt-database-head). */
  ok: boolean;
}

export async function shardWitness(storage: LogStorage, cfg: ShardConfig, opts: { adopt: boolean }): Promise<WitnessReport> {
  const shard = await storage.getShard(cfg.name);
  if (!shard) throw new Error(`shard ${cfg.name} is not in the database; nothing to guard yet (create it with \`ctlog shard create ${cfg.name}\`)`);
  const witness = new HeadWitness(cfg.witnessFile, shard);
  const db = shard.head;
  const lines = [`shard ${cfg.name}`, `  record   ${cfg.witnessFile}`, `  database ${describeHead(db)}`];
  let recorded: string;
  try {
    const rec = await witness.load();
    recorded = rec ? describeHead(rec) : '(none)';
  } catch (err) {
    if (!(err instanceof WitnessError)) throw err;
    recorded = `(unusable: ${err.message})`;
  }
  lines.push(`  recorded ${recorded}`);
  if (opts.adopt) {
    await witness.overwrite(db);
    lines.push(`  adopted the database head as the published head: the sequencer will extend it`);
    return { text: lines.join('\n'), ok: true };
  }
  try {
    const v = await checkForkGuard(storage, shard, witness, () => Promise.resolve(db), { record: false });
    lines.push(`  verdict  ${v.relation}: the sequencer will extend the database head`);
    return { text: lines.join('\n'), ok: true };
  } catch (err) {
    if (!(err instanceof ForkGuardError)) throw err;
    lines.push(`  verdict  REFUSED: ${err.message}`);
    return { text: lines.join('\n'), ok: false };
  }
}
