// The fork guard (docs/DESIGN.md "Never fork", docs/OPERATIONS.md "Fork guard"): before the sequencer extends the database's
// tree head, at start and at every reload, that head must be the newest head the sequencer
// published (kept in the HeadWitness record, outside the database) or a consistent
// extension of it, proven from the stored tiles. Anything else means the database lost
// published entries (a failover to a lagging replica, a restored backup) or holds another
// tree: extending it would sign a second tree of the same size, a fork that no later fix
// can undo. So the sequencer stops with an error that names both heads and the ways out,
// and never goes on by itself.
import { assemble, planConsistency, verifyConsistency } from '../merkle/index.js';
import { describeHead, WitnessError, type HeadWitness } from './head-witness.js';
import { fetchPlanTiles, type LogStorage, type TreeHead } from './log-storage.js';
import { equal } from '../util/bytes.js';

export interface GuardedShard {
  id: number;
  name: string;
}

/** The database head must not be extended: the message names both heads and the ways out. */
export class ForkGuardError extends Error {
  override name = 'ForkGuardError';
}

export interface GuardVerdict {
  /** The database head that was checked. */
  db: TreeHead;
  /** What the record held before (undefined: none, a first start). */
  recorded: TreeHead | undefined;
  /** How the database head relates to it. */
  relation: 'first start' | 'same head' | 'consistent extension';
  /** Every new head's timestamp must exceed this (a restored database may predate the record). */
  minTimestamp: number;
}

/**
 * Checks the database head (read by `readDbHead`, after the record is loaded) against the record. With `record`, brings the record up to
 * the database head once it passed (the sequencer); without, only reports (an operator's
 * status). Throws ForkGuardError when the database must not be extended, and WitnessError
 * when a passed head cannot be recorded; a database error while fetching tiles propagates
 * as it is (transient).
 */
export async function checkForkGuard(
  storage: LogStorage,
  shard: GuardedShard,
  witness: HeadWitness,
  readDbHead: () => Promise<TreeHead>,
  opts: { record: boolean },
): Promise<GuardVerdict> {
  const adopt = `\`ctlog shard witness ${shard.name} --adopt-database-head\``;
  let rec: TreeHead | undefined;
  try {
    rec = await witness.load();
  } catch (err) {
    if (!(err instanceof WitnessError)) throw err;
    throw new ForkGuardError(
      `fork guard: shard ${shard.name}: ${err.message}. Restore the record from a backup of the data directory, ` +
        `or, after checking that the database holds every tree head this shard ever published (compare with what monitors saw), ` +
        `rewrite it from the database with ${adopt} (docs/OPERATIONS.md "Fork guard")`,
      { cause: err },
    );
  }
  // Only now the database head: a record written by another sequencer after this read would
  // otherwise look like a database that moved backwards.
  const db = await readDbHead();
  if (!rec) {
    if (db.treeSize === 0) {
      // First start of a new shard: nothing was published but the empty tree.
      if (opts.record) await witness.overwrite(db);
      return { db, recorded: undefined, relation: 'first start', minTimestamp: db.timestamp };
    }
    throw new ForkGuardError(
      `fork guard: shard ${shard.name}: there is no record of the published tree head at ${witness.path}, but the database holds a tree of ` +
        `${describeHead(db)}. If the sequencer moved to a new data directory, copy witness/${shard.name}.json from the old one. ` +
        `If you have checked that no larger or different tree head was ever published (compare with what monitors saw), ` +
        `adopt the database head with ${adopt} (docs/OPERATIONS.md "Fork guard")`,
    );
  }
  const wayOut =
    `Bring back the missing entries: point --database at a server that holds the published head (the old primary, or a replica that is not behind), ` +
    `or restore a newer backup. Only if you are certain the recorded head was never published, replace the record with ${adopt} (docs/OPERATIONS.md "Fork guard")`;
  if (db.treeSize < rec.treeSize) {
    throw new ForkGuardError(
      `fork guard: shard ${shard.name}: the database's tree head (${describeHead(db)}) is behind the published head recorded in ${witness.path} ` +
        `(${describeHead(rec)}): the database lost published entries (a failover to a lagging replica, or a restored backup). ` +
        `Extending it would sign a second tree (a fork); the sequencer stops. ${wayOut}`,
    );
  }
  if (db.treeSize === rec.treeSize) {
    if (!equal(db.rootHash, rec.rootHash)) {
      throw new ForkGuardError(
        `fork guard: shard ${shard.name}: the database's tree head (${describeHead(db)}) has the same size as the published head recorded in ${witness.path} ` +
          `(${describeHead(rec)}) but another root: the database holds another tree. The sequencer stops. ${wayOut}`,
      );
    }
    return { db, recorded: rec, relation: 'same head', minTimestamp: Math.max(db.timestamp, rec.timestamp) };
  }
  if (rec.treeSize > 0) {
    // RFC 6962 §2.1.2: the recorded tree must be a prefix of the database's, proven from the
    // database's own tiles (plan, fetch, assemble; then verify against both roots).
    const plan = planConsistency(rec.treeSize, db.treeSize);
    const tiles = await fetchPlanTiles(storage, shard.id, plan); // a database error here is transient, not a fork
    try {
      const proof = assemble(plan, tiles);
      verifyConsistency(rec.treeSize, db.treeSize, proof, rec.rootHash, db.rootHash);
    } catch (err) {
      throw new ForkGuardError(
        `fork guard: shard ${shard.name}: the database's tree head (${describeHead(db)}) is not a consistent extension of the published head recorded in ${witness.path} ` +
          `(${describeHead(rec)}): ${(err as Error).message}. The sequencer stops. ${wayOut}`,
        { cause: err },
      );
    }
  }
  // The database is ahead of the record: a crash between a commit and its record, or another
  // sequencer's commits. Its head may already be served, so it is published: record it.
  if (opts.record) await witness.record(db);
  return { db, recorded: rec, relation: 'consistent extension', minTimestamp: Math.max(db.timestamp, rec.timestamp) };
}
