// The fault battery of issues 7 and 8, one engine for the bounded test
// (fault-battery.test.ts) and the longer benchmark (`npm run bench -- faults`). It starts its
// own MariaDB and Redis (test/helpers/mariadb-server.ts, private-redis.ts), and per case a
// fresh database, Redis prefix and --data directory with `ctlog keygen`, `ctlog migrate`,
// `ctlog shard create`, then the sequencer, ctfe and read processes, each under a supervisor
// that restarts it when it exits (supervised.ts); they find the database through
// CTLOG_DATABASE_URL, as in the k8s manifests. The replication cases get a replicated set of
// their own instead (a semi-synchronous primary and its replicas, `require_replica_ack: true`).
// Under a fixed-rate load of CA-like clients (load.ts) and a monitor of tree heads
// (monitor.ts) it injects one fault, lets the load finish, and checks every SCT and every tree
// head seen (check-case.ts); the replication cases also look every SCT up in a database copy
// itself (the replica while it stands still, the promoted primary).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromB64 } from '../../src/util/bytes.js';
import { CTLOG, ProcessGroup, freePort } from '../e2e/processes.js';
import { MariaDbServer, replicatedSet, type ReplicatedSet } from '../helpers/mariadb-server.js';
import { checkCase, checkSctsInDatabase, type CaseCheck, type DatabaseCheck } from './check-case.js';
import { DEMO_ROOT, generateChains } from './generate-chains.js';
import { Load } from './load.js';
import { Monitor } from './monitor.js';
import { PrivateRedis } from './private-redis.js';
import { Supervised } from './supervised.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const CASES = [
  'kill -9 ctfe',
  'kill -9 sequencer',
  'kill -9 read',
  'Redis restart',
  'two Redis restarts',
  'MariaDB restart',
  'two sequencers',
  'rollback',
  'primary loss with promotion',
  'replica stops acknowledging under load',
] as const;
export type CaseName = (typeof CASES)[number];

export interface BatteryOptions {
  /** Submissions started per second. */
  rate: number;
  /** Seconds of load per case (the two-restart case adds redisGapS, the rollback case its phases). */
  loadS: number;
  /** Seconds into the load when the fault hits. */
  faultAtS: number;
  /** Seconds between the two Redis restarts (issue 7: "within a minute"), and of load after the second. */
  redisGapS: number;
  /** Seconds MariaDB stays stopped. */
  mariadbDownS: number;
  /** Seconds the replica stays away each of the two times it stops acknowledging. */
  replicaOutS: number;
  /** The supervisor's delay before it restarts a process that exited. */
  restartDelayMs: number;
  /** Client timeout per request. */
  timeoutMs: number;
  /** Most submissions in flight at once (see Load). */
  maxInFlight: number;
  /** get-proof-by-hash checks per case. */
  proofSample: number;
  /** How long clients keep retrying after the load stops. */
  drainMs: number;
  cases: readonly CaseName[];
  /** Progress lines. */
  log: (line: string) => void;
}

export type RollbackVerdict = 'stopped as required' | 'forked' | 'kept running (no fork seen)' | 'did not come back after the newer data was restored';

export interface CaseResult extends CaseCheck {
  name: CaseName;
  /** Answers by status, every attempt counted. */
  answers: Map<string, number>;
  /** Seconds from the (last) fault until a submission sent after it got a 200 and get-sth answered again. */
  recoverS: number | undefined;
  /** Every process running again, and SCTs flowing, without an operator's hand. */
  cameBack: boolean;
  /** Automatic restarts by the supervisor, per process. */
  restarts: Record<string, number>;
  rollback?: RollbackVerdict;
  /** The sequencer's fork-guard error, when it stopped with one. */
  forkGuardError?: string;
  /** The SCTs looked up in a database copy itself (the replica while it stood still, the promoted primary). */
  databaseCheck?: DatabaseCheck;
  /** What `ctlog promote` said of the shard's head against the fork guard's record. */
  promotion?: string;
  /**
   * While the only replica hung: submissions first sent after it froze (so their entries
   * were committed after, and no replica can hold them), and how many of them got an SCT
   * before it resumed (must be 0).
   */
  whileFrozen?: { submissions: number; scts: number };
  notes: string[];
}

interface Deployment {
  dir: string;
  data: string;
  config: string;
  db: string;
  spki: Uint8Array;
  submitBase: string;
  readBase: string;
  sequencer: Supervised;
  ctfe: Supervised;
  read: Supervised;
  extra: Supervised[];
  /** The replication cases' servers (stopped with the deployment). */
  set?: ReplicatedSet;
  /** The replicated set's primary after a promotion. */
  primary?: MariaDbServer;
  /** A serving process under the supervisor, on the database the deployment uses now. */
  supervise(name: string, role: string, listen: string): Supervised;
  /** Points every process at another database (CTLOG_DATABASE_URL) and restarts them. */
  pointAt(url: string): Promise<void>;
  stopAll(): Promise<void>;
}

/** The replication cases: how many replicas, and the semi-sync timeout (rpl_semi_sync_master_timeout). */
const REPLICATED: Partial<Record<CaseName, { replicas: number; ackTimeoutMs: number }>> = {
  // Two: after the promotion the other replica acknowledges the new primary. A timeout longer
  // than production's 1 s: on the shared 2-core box a replica can be that slow without being
  // gone, and this case is about losing the primary, not the replicas.
  'primary loss with promotion': { replicas: 2, ackTimeoutMs: 3000 },
  'replica stops acknowledging under load': { replicas: 1, ackTimeoutMs: 1000 },
};

function shardsYaml(baseUrl: string, requireReplicaAck: boolean): string {
  return `log:
  base_url: ${baseUrl}
  operator: ctlog fault battery
  require_replica_ack: ${requireReplicaAck}
defaults:
  roots: ${DEMO_ROOT}
  pool_size: 500
  pool_period_ms: 25
  get_entries_max: 1000
  submission_deadline_ms: 5000
  sth_interval_ms: 500
shards:
  - name: faults
    prefix: /faults
    not_after_start: 2020-01-01T00:00:00Z
    not_after_limit: 2100-01-01T00:00:00Z
`;
}

export class FaultBattery {
  private readonly group = new ProcessGroup();
  private deployments: Deployment[] = [];
  private caseNo = 0;

  private constructor(
    readonly dir: string,
    readonly mariadb: MariaDbServer,
    readonly redis: PrivateRedis,
    private readonly o: BatteryOptions,
  ) {}

  /** Starts the private MariaDB and Redis. close() stops them (call it in a finally). */
  static async start(o: BatteryOptions): Promise<FaultBattery> {
    const dir = mkdtempSync(join(tmpdir(), 'ctlog-faults-'));
    let mariadb: MariaDbServer | undefined;
    try {
      mariadb = await MariaDbServer.create(dir, 'mariadb');
      const redis = await PrivateRedis.create();
      return new FaultBattery(dir, mariadb, redis, o);
    } catch (err) {
      await mariadb?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.deployments.map((d) => d.stopAll()));
    await this.group.stop();
    await Promise.allSettled([this.redis.kill(), this.mariadb.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async runAll(): Promise<CaseResult[]> {
    const out: CaseResult[] = [];
    for (const name of this.o.cases) out.push(await this.runCase(name));
    return out;
  }

  private async deploy(replication?: { replicas: number; ackTimeoutMs: number }): Promise<Deployment> {
    const n = ++this.caseNo;
    const dir = join(this.dir, `case-${n}`);
    const data = join(dir, 'data');
    mkdirSync(join(data, 'keys'), { recursive: true });
    const set = replication ? await replicatedSet(replication.replicas, replication.ackTimeoutMs, dir) : undefined;
    try {
      return await this.deployOn(n, dir, data, set);
    } catch (err) {
      await set?.close();
      throw err;
    }
  }

  private async deployOn(n: number, dir: string, data: string, set: ReplicatedSet | undefined): Promise<Deployment> {
    const server = set?.primary ?? this.mariadb;
    const [ctfePort, readPort] = [await freePort(), await freePort()];
    const config = join(dir, 'shards.yaml');
    writeFileSync(config, shardsYaml(`http://127.0.0.1:${ctfePort}`, set !== undefined));
    // The queue key the ctfe and the sequencers share (they read <data>/queue.key).
    writeFileSync(join(data, 'queue.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    const db = `faults_${n}_${Date.now().toString(36)}`;
    const common = ['--config', config, '--data', data];
    const queue = ['--redis', this.redis.url, '--redis-prefix', `faults-${n}`];
    const keygen = await this.group.run(['keygen', '--out', join(data, 'keys', 'faults.pem')]);
    const spki = fromB64(/public key (\S+)/.exec(keygen)![1]!)!;
    await this.group.run(['migrate', ...common, '--database', server.url(db)]);
    await this.group.run(['shard', 'create', 'faults', ...common, '--database', server.url(db)]);
    // The serving processes take the database from the environment, as in the k8s manifests;
    // a failover changes it and restarts them (Supervised.restart).
    let databaseUrl = server.url(db);
    const supervise = (name: string, role: string, listen: string) =>
      new Supervised(name, [role, ...common, ...queue, '--listen', listen], { restartDelayMs: this.o.restartDelayMs, env: { CTLOG_DATABASE_URL: databaseUrl } });
    const d: Deployment = {
      dir,
      data,
      config,
      db,
      spki,
      submitBase: `http://127.0.0.1:${ctfePort}/faults`,
      readBase: `http://127.0.0.1:${readPort}/faults`,
      sequencer: supervise('sequencer', 'sequencer', '127.0.0.1:0'),
      ctfe: supervise('ctfe', 'ctfe', `127.0.0.1:${ctfePort}`),
      read: supervise('read', 'read', `127.0.0.1:${readPort}`),
      extra: [],
      set,
      supervise,
      async pointAt(url) {
        databaseUrl = url;
        await Promise.all([d.sequencer, d.ctfe, d.read, ...d.extra].map((p) => p.restart({ CTLOG_DATABASE_URL: url }, { graceMs: 5000 })));
      },
      async stopAll() {
        await Promise.allSettled([d.ctfe, d.read, d.sequencer, ...d.extra].map((p) => p.stop()));
        await d.set?.close();
      },
    };
    this.deployments.push(d);
    await d.sequencer.start();
    await Promise.all([d.ctfe.start(), d.read.start()]);
    return d;
  }

  async runCase(name: CaseName): Promise<CaseResult> {
    const o = this.o;
    const log = (s: string) => o.log(`[${name}] ${s}`);
    // Two restarts: the load goes on for a gap after the second, so that the new job ids
    // (counting from 1 again) reach those of the jobs lost in it while their clients retry.
    // Two sequencers: twice the load, so that they contend for the shard long enough for a
    // race between them to show. Primary loss: the load goes on for half its length after
    // every process is back on the promoted replica (extraS sizes the chains for that). The
    // replica: away twice (frozen, then stopped), each followed by as long of load with it back.
    const extraS =
      name === 'two Redis restarts'
        ? 2 * o.redisGapS
        : name === 'two sequencers'
          ? o.loadS
          : name === 'primary loss with promotion'
            ? o.loadS
            : name === 'replica stops acknowledging under load'
              ? Math.max(0, o.faultAtS + 4 * o.replicaOutS - o.loadS)
              : 0;
    const poolSize = Math.ceil(o.rate * (o.loadS + extraS + (name === 'rollback' ? o.loadS / 2 + 8 : 0)) * 1.1) + 50;
    const t0 = performance.now();
    const chains = generateChains(poolSize);
    log(`generated ${poolSize} chains in ${((performance.now() - t0) / 1000).toFixed(1)} s; starting a fresh deployment`);
    const d = await this.deploy(REPLICATED[name]);
    const load = new Load(d.submitBase, chains, { rate: o.rate, timeoutMs: o.timeoutMs, maxRetryAfterS: 10, maxInFlight: o.maxInFlight });
    const monitor = new Monitor(d.readBase, d.spki);
    const faults: Array<{ what: string; at: number }> = [];
    // When the fault's cause went away, where that is not at once (the replica came back):
    // the time to recover is counted from there.
    const backAt: number[] = [];
    const notes: string[] = [];
    const fault = (what: string) => {
      faults.push({ what, at: Date.now() });
      log(`FAULT: ${what} (${load.issued} submitted so far)`);
    };
    let rollback: RollbackVerdict | undefined;
    let forkGuardError: string | undefined;
    let databaseCheck: DatabaseCheck | undefined;
    let promotion: string | undefined;
    let whileFrozen: CaseResult['whileFrozen'];
    let cameBackAfterRestore = true;
    const start = Date.now();
    let endS = o.loadS + (name === 'primary loss with promotion' ? 0 : extraS);
    const at = async (s: number) => {
      const wait = start + s * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
    };
    monitor.start();
    load.start();
    try {
      await at(o.faultAtS);
      switch (name) {
        case 'kill -9 ctfe':
          fault('kill -9 ctfe');
          d.ctfe.kill9();
          break;
        case 'kill -9 sequencer':
          fault('kill -9 sequencer');
          d.sequencer.kill9();
          break;
        case 'kill -9 read':
          fault('kill -9 read');
          d.read.kill9();
          break;
        case 'Redis restart':
        case 'two Redis restarts':
          for (let i = 0; i < (name === 'Redis restart' ? 1 : 2); i++) {
            if (i > 0) await at(o.faultAtS + o.redisGapS);
            fault(`Redis restart${i ? ' (second)' : ''}: kill -9, start again empty after 1 s`);
            await this.redis.kill();
            await sleep(1000);
            await this.redis.start();
          }
          break;
        case 'MariaDB restart':
          fault(`MariaDB stopped for ${o.mariadbDownS} s`);
          await this.mariadb.stop();
          await sleep(o.mariadbDownS * 1000);
          await this.mariadb.start();
          break;
        case 'two sequencers': {
          fault('a second `ctlog sequencer` started');
          const second = d.supervise('sequencer 2', 'sequencer', '127.0.0.1:0');
          d.extra.push(second);
          await second.start();
          break;
        }
        case 'rollback': {
          const older = join(d.dir, 'older.sql');
          const newer = join(d.dir, 'newer.sql');
          // The replica lags by a third of the load: short enough that the new submissions
          // after the failover outgrow the lost part, so a fork shows as a second root for a
          // size the read server has already shown (it never steps back to a smaller head).
          await at((o.loadS * 2) / 3);
          this.mariadb.dump(d.db, older);
          log(`dumped the database (the lagging replica) with ${load.issued} submitted`);
          await at(o.loadS);
          load.pause();
          await load.drain(20_000);
          await this.waitStable(monitor, 2000, 20_000);
          await d.sequencer.stop();
          this.mariadb.dump(d.db, newer);
          const sizeBefore = monitor.seen.reduce((m, s) => Math.max(m, s.size), 0);
          fault('the database restored from the older dump (a failover to a lagging replica); sequencer restarted');
          this.mariadb.restore(d.db, older);
          const started = d.sequencer.start(30_000).catch(() => undefined);
          load.start();
          // A read server started after the failover (a new pod, a replica): it has no newer
          // head cached, so it shows what the database now holds.
          const port = await freePort();
          const lateRead = d.supervise('read started after the failover', 'read', `127.0.0.1:${port}`);
          d.extra.push(lateRead);
          void lateRead.start().then(() => monitor.addReadServer(`http://127.0.0.1:${port}/faults`), () => undefined);
          const phase2 = Date.now() + Math.max(4, o.loadS / 2) * 1000;
          while (Date.now() < phase2 && !d.sequencer.halted) await sleep(100);
          await started;
          if (d.sequencer.halted) {
            forkGuardError = forkGuardLine(d.sequencer.halted.tail);
            rollback = 'stopped as required';
            log(`the sequencer stopped: ${forkGuardError}`);
            // The error must name both heads: the published one (>= sizeBefore) and the database's.
            if (!/\d/.test(forkGuardError)) notes.push('the fork-guard error names no tree size');
            if (!forkGuardError.includes(String(sizeBefore))) notes.push(`the fork-guard error does not name the published size ${sizeBefore}`);
            await sleep(2000); // the supervisor must not restart it
            if (d.sequencer.running) notes.push('the supervisor restarted a sequencer halted by the fork guard');
          } else {
            rollback = 'kept running (no fork seen)';
            notes.push(`the sequencer kept running on the rolled-back database (no fork guard); tree size before the rollback: ${sizeBefore}`);
          }
          // The operator's way out: bring the missing entries back (the newer data), then restart.
          load.pause();
          await d.sequencer.stop();
          this.mariadb.restore(d.db, newer);
          fault('the newer data restored by hand; sequencer started');
          try {
            await d.sequencer.start(30_000);
          } catch (err) {
            cameBackAfterRestore = false;
            notes.push(`after the newer data was restored the sequencer did not start: ${(err as Error).message.slice(0, 400)}`);
          }
          load.start();
          await sleep(4000);
          break;
        }
        case 'primary loss with promotion': {
          const set = d.set!;
          fault('kill -9 of the primary mariadbd');
          await set.primary.kill();
          // The operator's procedure, docs/OPERATIONS.md "Failover". 1: stop the sequencer.
          await d.sequencer.stop(5000);
          // 2: `ctlog promote` where the sequencer's data directory is. It refuses a replica
          // that received less than the other, naming the other: the operator promotes that one.
          let [chosen, other] = set.replicas as [MariaDbServer, MariaDbServer];
          const promote = () => this.ctlog(['promote', '--config', d.config, '--data', d.data, '--database', chosen.url(d.db), '--replica', other.url(d.db)]);
          const promoteAt = Date.now();
          let p = await promote();
          if (p.code !== 0 && /promote it instead/.test(p.output)) {
            log(`ctlog promote refused ${chosen.name} (${other.name} received more); promoting ${other.name}`);
            [chosen, other] = [other, chosen];
            p = await promote();
          }
          if (p.code !== 0) throw new Error(`ctlog promote failed (${p.code}):\n${p.output.slice(-3000)}`);
          promotion = /shard faults: [^\n]*/.exec(p.output)?.[0] ?? p.output.slice(-500);
          log(`promoted ${chosen.name}: ${promotion}`);
          // 3: every process's CTLOG_DATABASE_URL to the new primary, and a restart.
          const restartAt = Date.now();
          try {
            await d.pointAt(chosen.url(d.db));
          } catch (err) {
            if (!d.sequencer.halted) throw err;
            forkGuardError = forkGuardLine(d.sequencer.halted.tail);
            notes.push(`the fork guard refused the promoted replica: ${forkGuardError}`);
          }
          log(`every process restarted on ${chosen.name} (${load.issued} submitted so far)`);
          notes.push(`ctlog promote: ${promotion} (the fork guard's record against the replica's head)`);
          notes.push(`failover: ctlog promote ${((restartAt - promoteAt) / 1000).toFixed(1)} s, the three processes restarted on ${chosen.name} in ${((Date.now() - restartAt) / 1000).toFixed(1)} s`);
          d.primary = chosen;
          endS = Math.max(endS, (Date.now() - start) / 1000 + o.loadS / 2);
          break;
        }
        case 'replica stops acknowledging under load': {
          const replica = d.set!.replicas[0]!;
          // 1. It hangs: the primary's commits wait for the ack until the semi-sync timeout,
          // then MariaDB goes on asynchronously (the replica still counts as connected).
          fault(`the replica's mariadbd hangs (SIGSTOP) for ${o.replicaOutS} s`);
          const frozenAt = Date.now();
          replica.freeze();
          await sleep(o.replicaOutS * 1000);
          replica.resume();
          const resumedAt = Date.now();
          backAt.push(resumedAt);
          // Every chain is submitted once, so an entry first sent after the freeze was committed
          // after it: only the primary held it until the replica resumed.
          const sentWhileFrozen = load.outcomes.filter((x) => x.firstSentAt !== undefined && x.firstSentAt > frozenAt && x.firstSentAt < resumedAt);
          whileFrozen = { submissions: sentWhileFrozen.length, scts: sentWhileFrozen.filter((x) => x.answeredAt !== undefined && x.answeredAt < resumedAt).length };
          log(`the replica resumed (${load.issued} submitted so far)`);
          await sleep(o.replicaOutS * 1000);
          // 2. It stops replicating (the I/O thread, as a network cut or STOP SLAVE does) and
          // stands still: every SCT the log returned up to now must be in its own database.
          fault(`the replica stops replicating (STOP SLAVE IO_THREAD) for ${o.replicaOutS} s`);
          await replica.stopReceiving();
          await sleep(o.replicaOutS * 1000);
          const returned = load.outcomes.filter((x) => x.sct !== undefined);
          databaseCheck = await checkSctsInDatabase({ what: `the stopped replica, ${returned.length} SCTs returned so far`, url: replica.url(d.db), shard: 'faults', spki: d.spki, outcomes: returned });
          log(`${databaseCheck.checked} SCTs looked up on the stopped replica: ${databaseCheck.missing} missing`);
          replica.sql('START SLAVE');
          backAt.push(Date.now());
          break;
        }
      }
      await at(endS);
      const wallS = (Date.now() - start) / 1000;
      log(`load stops: ${load.issued} submitted, ${load.inFlight} in flight; draining`);
      await load.finish(o.drainMs);
      // Give a restart in progress the time to finish before judging "came back".
      const procs = [d.sequencer, d.ctfe, d.read, ...d.extra];
      await Promise.all(procs.map((p) => p.waitUp(20_000).catch(() => undefined)));
      const check = await checkCase({ readBase: d.readBase, spki: d.spki, outcomes: load.outcomes, seen: monitor.seen, proofSample: o.proofSample, waitMs: 30_000 });
      await monitor.stop();
      if (name === 'primary loss with promotion' && d.primary) {
        // Not only through the read server: the promoted primary's own tables.
        databaseCheck = await checkSctsInDatabase({ what: `the promoted primary (${d.primary.name})`, url: d.primary.url(d.db), shard: 'faults', spki: d.spki, outcomes: load.outcomes });
      }
      if (databaseCheck) notes.push(`${databaseCheck.checked} SCTs looked up in the database of ${databaseCheck.what}: ${databaseCheck.missing} missing`);
      if (whileFrozen) notes.push(`${whileFrozen.submissions} submissions first sent while the replica hung: ${whileFrozen.scts} got an SCT before it resumed`);

      // Recovery: the first 200 to a submission sent after the fault, and the first get-sth 200 sent after it.
      let recoverS: number | undefined = 0;
      const from = backAt.length ? backAt : (name === 'rollback' ? faults.slice(0, 1) : faults).map((f) => f.at);
      for (const f of from) {
        const sub = load.outcomes.filter((x) => x.sentAt !== undefined && x.sentAt >= f).reduce((m, x) => Math.min(m, x.answeredAt!), Infinity);
        const read = monitor.readOkSentAt.find((t) => t >= f) ?? Infinity;
        const r = (Math.max(sub, read) - f) / 1000;
        recoverS = Number.isFinite(r) && recoverS !== undefined ? Math.max(recoverS, r) : undefined;
      }
      const restarts = Object.fromEntries(procs.map((p) => [p.name, p.restarts]));
      const allUp = procs.every((p) => p.up);
      const cameBack = name === 'rollback' ? rollback === 'stopped as required' && cameBackAfterRestore && allUp : allUp && recoverS !== undefined;
      if (name === 'rollback') {
        if (!cameBackAfterRestore) rollback = 'did not come back after the newer data was restored';
        else if (rollback !== 'stopped as required' && (check.sthConflicts > 0 || check.lost > 0)) rollback = 'forked';
      }
      for (const p of procs) {
        if (p.up) continue;
        if (p.halted) notes.push(`${p.name} stopped with a fork-guard error (not restarted): ${forkGuardLine(p.halted.tail).slice(0, 900)}`);
        else notes.push(`${p.name} is not running at the end; last output: ${p.lastOutput().slice(-400)}`);
      }
      const no503ra = [...load.answers].filter(([k]) => /without Retry-After/.test(k)).reduce((a, [, v]) => a + v, 0);
      if (no503ra) notes.push(`${no503ra} 503/429 answers without Retry-After`);
      if (check.wentBackwards) notes.push(`a read server showed a smaller tree after a larger one had been shown ${check.wentBackwards} time(s) (not a fork: a prefix of the final tree)`);
      notes.push(`offered ${o.rate}/s; ${Math.round(load.issued / wallS)}/s started on average over ${wallS.toFixed(0)} s${name === 'rollback' ? ' (pauses included)' : ''}`);
      if (load.heldBackMs >= 100) notes.push(`new submissions held back for ${(load.heldBackMs / 1000).toFixed(1)} s at ${o.maxInFlight} in flight`);
      if (check.unanswered) notes.push(`${check.unanswered} submissions never got an SCT within ${o.drainMs / 1000} s of retries after the load`);
      if (databaseCheck) check.problems.push(...databaseCheck.problems);
      const result: CaseResult = { name, ...check, answers: load.answers, recoverS, cameBack, restarts, rollback, forkGuardError, databaseCheck, promotion, whileFrozen, notes };
      log(`done: ${check.scts} SCTs, ${check.included} included, ${check.lost} lost, ${check.wrong} wrong, ${check.sthConflicts} STH conflicts`);
      return result;
    } finally {
      load.pause();
      await monitor.stop().catch(() => undefined);
      await d.stopAll();
    }
  }

  /** Runs a one-shot ctlog command (e.g. promote) to its end: its exit code and all its output. */
  private async ctlog(args: string[]): Promise<{ code: number | string; output: string }> {
    const child = this.group.start(process.execPath, [CTLOG, ...args]);
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), 180_000);
    const code = await child.exited;
    clearTimeout(timer);
    return { code, output: child.output() };
  }

  /** Waits until the largest tree size the monitor saw has not changed for quietMs. */
  private async waitStable(monitor: Monitor, quietMs: number, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = -1;
    let since = Date.now();
    while (Date.now() < until) {
      const size = monitor.seen.reduce((m, s) => Math.max(m, s.size), 0);
      if (size !== last) {
        last = size;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) return;
      await sleep(100);
    }
  }
}

/** The fork-guard error in a process's last output (from a JSON log line or a plain one). */
function forkGuardLine(tail: string): string {
  const line = /[^\n]*fork[ -]guard[^\n]*/i.exec(tail)?.[0] ?? tail.slice(-500);
  try {
    return String((JSON.parse(line) as { err?: unknown }).err ?? line);
  } catch {
    return line; // a plain line
  }
}

const fmtAnswers = (m: Map<string, number>) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');

/** The table issue 7 asks for, one row per case, as lines (the test prefixes them with "# "). */
export function formatTable(results: CaseResult[]): string[] {
  const head = ['case', 'submissions', 'SCTs', 'verified included', 'lost SCTs', 'SCTs for another submission', 'STH conflicts', 'recover (s)', 'came back without a hand'];
  const rows = results.map((r) => [
    r.name,
    String(r.submissions),
    String(r.scts),
    String(r.included),
    String(r.lost),
    String(r.wrong),
    String(r.sthConflicts),
    r.recoverS === undefined ? 'never' : r.recoverS.toFixed(1),
    r.name === 'rollback' ? (r.cameBack ? 'no: stopped as required; yes once the data was restored' : `NO: ${r.rollback}`) : r.cameBack ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 || i === c.length - 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ').trimEnd();
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line), '', 'answers by status code (every attempt; clients retry 503/429 after Retry-After):'];
  for (const r of results) out.push(`  ${r.name}: ${fmtAnswers(r.answers)}`);
  const notes = results.filter((r) => r.notes.length || r.problems.length || r.rollback || Object.values(r.restarts).some((n) => n > 0));
  if (notes.length) out.push('', 'notes:');
  for (const r of notes) {
    const restarts = Object.entries(r.restarts)
      .filter(([, n]) => n > 0)
      .map(([p, n]) => `${p} ×${n}`)
      .join(', ');
    if (restarts) out.push(`  ${r.name}: restarted by the supervisor: ${restarts}`);
    if (r.rollback) out.push(`  ${r.name}: ${r.rollback}${r.forkGuardError ? `: ${r.forkGuardError.slice(0, 600)}` : ''}`);
    for (const n of r.notes) out.push(`  ${r.name}: ${n}`);
    for (const p of r.problems) out.push(`  ${r.name}: ${p}`);
  }
  return out;
}
