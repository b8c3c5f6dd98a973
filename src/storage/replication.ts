// "No SCT that only one machine holds" (docs/OPERATIONS.md "Replication and failover"). In
// production MariaDB replicates semi-synchronously with rpl_semi_sync_master_wait_point =
// AFTER_SYNC: a COMMIT returns (and becomes visible to other sessions) only once a replica
// has acknowledged receiving it. But when no replica acknowledges within
// rpl_semi_sync_master_timeout, MariaDB silently falls back to asynchronous replication and
// the COMMIT returns anyway. So the sequencer asks after every commit, before it releases
// a single SCT, whether semi-synchronous replication is still on
// (Rpl_semi_sync_master_status). It switches back on only once a replica has caught up with
// everything committed while it was off, so "on" after our commit means a replica holds it.
import type { Knex } from 'knex';
import { CtError } from '../util/errors.js';
import { dialectOf } from './database.js';

/** The database is not set up for the replication shards.yaml asks for: fix the database, then restart. */
export class ReplicationConfigError extends Error {
  override name = 'ReplicationConfigError';
}

export interface ReplicaAck {
  /**
   * Resolves if every commit made so far on this connection's server is on at least one
   * replica; rejects with a 503 CtError (Retry-After) if not, or if it cannot tell.
   */
  confirm(): Promise<void>;
}

type Row = { Variable_name: string; Value: string };

async function status(knex: Knex): Promise<Map<string, string>> {
  const [rows] = (await knex.raw(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients', 'Rpl_semi_sync_master_no_tx', 'Uptime')",
  )) as [Row[]];
  return new Map(rows.map((r) => [r.Variable_name.toLowerCase(), String(r.Value)]));
}

/**
 * Checks once that the primary is configured for semi-synchronous replication with
 * AFTER_SYNC, and returns the per-commit check. Throws ReplicationConfigError naming the
 * settings to change otherwise.
 */
export async function semiSyncAck(knex: Knex): Promise<ReplicaAck> {
  if (dialectOf(knex) !== 'mysql') {
    throw new ReplicationConfigError('log.require_replica_ack needs MariaDB (--database mysql://…); the embedded SQLite database has no replicas');
  }
  const [rows] = (await knex.raw('SELECT @@GLOBAL.rpl_semi_sync_master_enabled AS enabled, @@GLOBAL.rpl_semi_sync_master_wait_point AS wait_point, @@GLOBAL.log_bin AS log_bin')) as [
    Array<{ enabled: number | string; wait_point: string; log_bin: number | string }>,
  ];
  const v = rows[0]!;
  const problems: string[] = [];
  if (Number(v.log_bin) !== 1) problems.push('the binary log is off (start mariadbd with --log-bin)');
  if (Number(v.enabled) !== 1) problems.push('rpl_semi_sync_master_enabled is OFF (SET GLOBAL rpl_semi_sync_master_enabled = ON, and in my.cnf)');
  if (String(v.wait_point).toUpperCase() !== 'AFTER_SYNC') problems.push(`rpl_semi_sync_master_wait_point is ${v.wait_point}, must be AFTER_SYNC (SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC, and in my.cnf)`);
  if (problems.length) {
    throw new ReplicationConfigError(`log.require_replica_ack is true but the database at --database is not a semi-synchronous primary: ${problems.join('; ')}. See docs/OPERATIONS.md "Replication and failover"`);
  }
  // Rpl_semi_sync_master_no_tx counts commits that returned without an acknowledgement. If
  // it grew since the last check, a commit (perhaps this batch's) went out unacknowledged,
  // whatever the status says now: refuse, and the retry is answered on a fresh count.
  const first = await status(knex);
  let noTx = Number(first.get('rpl_semi_sync_master_no_tx') ?? 0);
  let uptime = { s: Number(first.get('uptime') ?? 0), at: Date.now() };
  // The counters and the status start afresh when MariaDB starts: a commit made without an
  // acknowledgement before that (by this process or an earlier one) is not counted, and the
  // status reads ON although the replica may not hold it yet. So at start, and after a
  // restart of the primary, a probe row is rewritten first: its acknowledged COMMIT means a
  // replica holds everything before it (it receives the binary log in order).
  let probe = true;
  return {
    async confirm() {
      let s: Map<string, string>;
      try {
        if (probe) await knex('replication_probe').insert({ id: 1, at: Date.now() }).onConflict('id').merge();
        s = await status(knex);
      } catch (err) {
        throw new CtError(503, 'replica_unknown', "couldn't ask the database whether a replica acknowledged the batch; retry", { cause: err, retryAfter: 1 });
      }
      const nowNoTx = Number(s.get('rpl_semi_sync_master_no_tx') ?? 0);
      const nowUptime = { s: Number(s.get('uptime') ?? 0), at: Date.now() };
      // Restarted: up for less time than has passed since the last look (2 s of slack for
      // rounding), or its count of unacknowledged commits went down.
      const restarted = nowUptime.s + 2 < uptime.s + (nowUptime.at - uptime.at) / 1000 || nowNoTx < noTx;
      uptime = nowUptime;
      if (restarted) {
        noTx = nowNoTx;
        probe = true;
        throw new CtError(503, 'no_replica_ack', 'the database restarted: the log issues no SCT until a replica is known to hold every earlier commit; retry', { retryAfter: 1 });
      }
      if (nowNoTx > noTx) {
        noTx = nowNoTx;
        throw new CtError(503, 'no_replica_ack', 'a commit went out without a replica acknowledging it: the log issues no SCT that only one machine holds; retry', { retryAfter: 5 });
      }
      // Both: the status alone reads ON on a fresh primary that no replica ever connected to
      // (it turns OFF only when a commit times out).
      if (s.get('rpl_semi_sync_master_status') !== 'ON' || !(Number(s.get('rpl_semi_sync_master_clients')) >= 1)) {
        throw new CtError(503, 'no_replica_ack', 'no database replica acknowledges writes right now: the log issues no SCT that only one machine holds; retry', { retryAfter: 5 });
      }
      probe = false;
    },
  };
}
