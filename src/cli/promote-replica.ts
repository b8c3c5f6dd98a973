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
  /** Promote even when another replica is ahead or a shard's record is ahead of (or missing for) this replica; the sequencer's guard still refuses such a shard. */
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

/** "0-1-123,1-2-45" -> domain -> sequence number (MariaDB GTID positions). */
function gtidPos(s: unknown): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of String(s ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const [domain, , seq] = part.split('-');
    if (domain !== undefined && seq !== undefined) out.set(domain, Math.max(out.get(domain) ?? 0, Number(seq)));
  }
  return out;
}

/** The domains where `a` has received less than `b`. */
function behindIn(a: Map<string, number>, b: Map<string, number>): string[] {
  return [...b].filter(([d, seq]) => (a.get(d) ?? 0) < seq).map(([d, seq]) => `domain ${d}: ${a.get(d) ?? 0} < ${seq}`);
}

export async function promoteReplica(o: PromoteOptions): Promise<void> {
  const knex = openDatabase({ url: o.replicaUrl, dataDir: o.dataDir, poolSize: 1 });
  const others = o.otherReplicas.map((url) => ({ url, knex: openDatabase({ url, dataDir: o.dataDir, poolSize: 1 }) }));
  try {
    const before = await slaveStatus(knex);
    if (!before) {
      throw new Error(`${redact(o.replicaUrl)} is not a replica (SHOW SLAVE STATUS is empty): it may already be the primary; nothing to promote`);
    }
    // 1. Freeze what every replica has received (the old primary is gone anyway), and promote
    // only the one that received the most: with AFTER_SYNC every commit anyone could see is
    // on at least one replica, so the most advanced one holds every published tree head.
    o.progress(`replica of ${before.Master_Host}:${before.Master_Port}; stopping the I/O threads`);
    await knex.raw('STOP SLAVE IO_THREAD');
    for (const r of others) await r.knex.raw('STOP SLAVE IO_THREAD');
    const mine = (await slaveStatus(knex))!;
    const received = gtidPos(mine.Gtid_IO_Pos);
    for (const r of others) {
      const theirs = await slaveStatus(r.knex);
      const ahead = behindIn(received, gtidPos(theirs?.Gtid_IO_Pos));
      if (ahead.length && !o.force) {
        throw new Error(
          `not promoted: ${redact(r.url)} has received transactions that ${redact(o.replicaUrl)} has not (${ahead.join('; ')}); promote it instead ` +
            '(the I/O threads are stopped: START SLAVE on each to resume if you keep the old primary)',
        );
      }
    }

    // 2. Apply everything received: wait for the SQL thread to reach the received position.
    const timeoutS = Math.ceil((o.applyTimeoutMs ?? 120_000) / 1000);
    o.progress(`applying received transactions up to ${String(mine.Gtid_IO_Pos) || '(none)'} (at most ${timeoutS} s)`);
    if (mine.Slave_SQL_Running !== 'Yes') throw new Error(`the replica's SQL thread is not running (${mine.Last_SQL_Error || 'stopped'}); fix it, START SLAVE SQL_THREAD, and run ctlog promote again`);
    if (String(mine.Gtid_IO_Pos ?? '')) {
      const [rows] = (await knex.raw('SELECT MASTER_GTID_WAIT(?, ?) AS w', [String(mine.Gtid_IO_Pos), timeoutS])) as [Array<{ w: number | string }>];
      if (Number(rows[0]?.w) !== 0) throw new Error(`the replica did not apply what it received within ${timeoutS} s; run ctlog promote again`);
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
          if (shard.head.treeSize > 0) refused.push(`shard ${cfg.name}: no fork-guard record at ${cfg.witnessFile}: run ctlog promote where the sequencer's data directory is (--data)`);
          continue;
        }
        const v = await checkForkGuard(storage, shard, witness, () => Promise.resolve(shard.head), { record: false });
        o.progress(`shard ${cfg.name}: database size ${shard.head.treeSize}, published ${rec.treeSize}: ${v.relation}`);
      } catch (err) {
        if (!(err instanceof ForkGuardError || err instanceof WitnessError)) throw err;
        refused.push(`shard ${cfg.name}: ${err.message}`);
      }
    }
    if (refused.length && !o.force) {
      throw new Error(
        `not promoted: this replica lacks tree heads the log published, or they cannot be checked here, so the sequencer would refuse it:\n  ${refused.join('\n  ')}\n` +
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

    // 5. The other replicas follow the new primary from their own GTID positions.
    const p = new URL(o.replicaUrl);
    for (const r of others) {
      await r.knex.raw('STOP SLAVE');
      await r.knex.raw('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos', [
        p.hostname,
        Number(p.port || 3306),
        decodeURIComponent(p.username),
        decodeURIComponent(p.password),
      ]);
      await r.knex.raw('START SLAVE');
      let s: SlaveStatus | undefined;
      for (let i = 0; i < 40; i++) {
        s = await slaveStatus(r.knex);
        if (s?.Slave_IO_Running === 'Yes') break;
        await sleep(250);
      }
      if (s?.Slave_IO_Running !== 'Yes') {
        throw new Error(`promoted, but ${redact(r.url)} does not replicate from it (${s?.Last_IO_Error || 'I/O thread not running'}): fix its CHANGE MASTER and START SLAVE`);
      }
      o.progress(`${redact(r.url)} now replicates from ${p.hostname}:${p.port || 3306}`);
    }
  } finally {
    await Promise.allSettled([knex.destroy(), ...others.map((r) => r.knex.destroy())]);
  }
}

/** A URL without its password, for output. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
