// `ctlog promote`: make a MariaDB replica the log's primary after the primary is lost
// (docs/OPERATIONS.md "Replication and failover"). Steps, each refusing clearly:
//  1. the server must be a replica; its I/O thread is stopped (the old primary is gone);
//  2. it applies everything it has received (with AFTER_SYNC, that includes every commit
//     for which an SCT was released);
//  3. every shard's database head is checked against the fork guard's record in --data
//     (where the sequencer keeps it): a replica that lacks a published head is NOT promoted,
//     since the sequencer would refuse it anyway and another replica may have it;
//  4. replication is removed, writes are allowed, semi-sync is switched on as a primary;
//  5. the other replicas named are pointed at it (GTID positions).
// Then the operator points every ctlog process at it (CTLOG_DATABASE_URL, or the Service or
// DNS name behind it) and restarts them; the sequencer's fork guard checks again at start.
import type { Knex } from 'knex';
import type { LogConfig } from '../config/config.js';
import { openDatabase } from '../storage/database.js';
import { checkForkGuard, ForkGuardError } from '../storage/fork-guard.js';
import { HeadWitness, WitnessError } from '../storage/head-witness.js';
import { LogStorage } from '../storage/log-storage.js';

export interface PromoteOptions {
  /** mysql:// URL of the replica to promote (the log's database on it). */
  replicaUrl: string;
  /** Other replicas to re-point at the promoted server: mysql:// URLs (their user must be allowed to run CHANGE MASTER). */
  otherReplicas: string[];
  config: LogConfig;
  dataDir: string;
  /** Promote even when a shard's record is ahead of the replica (it will not be extended: the sequencer stops). */
  force: boolean;
  /** How long to wait for the replica to apply what it received. @defaultValue 120000 */
  applyTimeoutMs?: number;
  progress: (line: string) => void;
}

type SlaveStatus = Record<string, string | number | null>;

async function slaveStatus(knex: Knex): Promise<SlaveStatus | undefined> {
  const [rows] = (await knex.raw('SHOW SLAVE STATUS')) as [SlaveStatus[]];
  return rows[0];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function promoteReplica(o: PromoteOptions): Promise<void> {
  const knex = openDatabase({ url: o.replicaUrl, dataDir: o.dataDir, poolSize: 1 });
  try {
    const before = await slaveStatus(knex);
    if (!before) {
      throw new Error(`${redact(o.replicaUrl)} is not a replica (SHOW SLAVE STATUS is empty): it may already be the primary; nothing to promote`);
    }
    o.progress(`replica of ${before.Master_Host}:${before.Master_Port}; stopping its I/O thread`);
    await knex.raw('STOP SLAVE IO_THREAD');

    // 2. Apply everything received: the SQL thread catches up with the relay log.
    const until = Date.now() + (o.applyTimeoutMs ?? 120_000);
    for (;;) {
      const s = (await slaveStatus(knex))!;
      const caughtUp = s.Master_Log_File === s.Relay_Master_Log_File && Number(s.Read_Master_Log_Pos) === Number(s.Exec_Master_Log_Pos);
      if (caughtUp) break;
      if (s.Slave_SQL_Running !== 'Yes') throw new Error(`the replica's SQL thread is not running (${s.Last_SQL_Error || 'stopped'}); fix it, START SLAVE SQL_THREAD, and run ctlog promote again`);
      if (Date.now() > until) throw new Error(`the replica did not apply its relay log within ${(o.applyTimeoutMs ?? 120_000) / 1000} s (at ${s.Exec_Master_Log_Pos} of ${s.Read_Master_Log_Pos}); run ctlog promote again`);
      o.progress(`applying received transactions: ${s.Exec_Master_Log_Pos} of ${s.Read_Master_Log_Pos} in ${s.Master_Log_File}`);
      await sleep(500);
    }
    o.progress('every received transaction is applied');

    // 3. The fork guard's records, where the sequencer keeps them.
    const storage = new LogStorage(knex);
    const refused: string[] = [];
    for (const cfg of o.config.shards) {
      const shard = await storage.getShard(cfg.name);
      if (!shard) continue;
      const witness = new HeadWitness(cfg.witnessFile, shard);
      try {
        const rec = await witness.load();
        if (!rec) {
          o.progress(`shard ${cfg.name}: no fork-guard record in ${o.dataDir} (the sequencer checks at its start); database size ${shard.head.treeSize}`);
          continue;
        }
        const v = await checkForkGuard(storage, shard, witness, shard.head, { record: false });
        o.progress(`shard ${cfg.name}: database size ${shard.head.treeSize}, published ${rec.treeSize}: ${v.relation}`);
      } catch (err) {
        if (!(err instanceof ForkGuardError || err instanceof WitnessError)) throw err;
        refused.push(`shard ${cfg.name}: ${err.message}`);
      }
    }
    if (refused.length && !o.force) {
      throw new Error(
        `not promoted: this replica lacks tree heads the log published, so the sequencer would refuse it:\n  ${refused.join('\n  ')}\n` +
          'Promote a replica that has them (its I/O thread is stopped here: START SLAVE to resume this one), or bring the old primary back.',
      );
    }

    // 4. Become the primary.
    await knex.raw('STOP SLAVE');
    await knex.raw('RESET SLAVE ALL');
    await knex.raw('SET GLOBAL read_only = OFF');
    await knex.raw('SET GLOBAL rpl_semi_sync_master_enabled = ON');
    await knex.raw("SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC'");
    o.progress(`promoted ${redact(o.replicaUrl)}: replication removed, writes allowed, semi-sync primary (AFTER_SYNC)`);
  } finally {
    await knex.destroy();
  }

  // 5. The other replicas follow the new primary from their own GTID positions.
  const p = new URL(o.replicaUrl);
  for (const url of o.otherReplicas) {
    const r = openDatabase({ url, dataDir: o.dataDir, poolSize: 1 });
    try {
      await r.raw('STOP SLAVE');
      await r.raw('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos', [
        p.hostname,
        Number(p.port || 3306),
        decodeURIComponent(p.username),
        decodeURIComponent(p.password),
      ]);
      await r.raw('START SLAVE');
      o.progress(`${redact(url)} now replicates from ${p.hostname}:${p.port || 3306}`);
    } finally {
      await r.destroy();
    }
  }
}

/** A URL without its password, for output. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
