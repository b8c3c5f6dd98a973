// The sequencer of one shard: pools submissions, sequences them (sequence-batch.ts, pure),
// commits entries + tiles + the new STH in one conditional transaction, records the new
// head in the fork-guard record, and only then signs SCTs (docs/DESIGN.md "The write path",
// invariants 1–5). At start and at every reload the database head passes the fork guard
// (fork-guard.ts) before anything extends it.
//
// Errors are of three kinds, handled where they arise:
//  - StaleHeadError (another writer committed first): reload the head from the database
//    and retry the same batch on top of it. Never a fork: the commit was conditional.
//  - per-batch (the database refused or dropped the transaction; the key could not sign,
//    e.g. a PKCS#11 token went away): fail this batch's waiters with 503, reload state (the
//    commit may or may not have happened; the database says which), go on. The waiters
//    retry and find their entries by dedup. An SCT signing failure comes after the commit:
//    its entries are in the log without SCTs, and the retry signs them.
//  - fatal (the database head fails the fork guard; the stored tiles do not rebuild the
//    stored root; the fork-guard record cannot be written): stop. A restart recovers where
//    the cause was transient; a fork-guard stop needs the operator.
import { LRUCache } from 'lru-cache';
import { edgeFromTiles, rightEdgeTiles, rootOfEdge, type RightEdge } from '../merkle/index.js';
import type { LogSigner } from '../signing/index.js';
import { encodeCtExtensions, sctSignedDigest, type SignedEntry } from '../tls/index.js';
import { equal, hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import type { Issuer, Sequenced, Submission } from '../queue/submission.js';
import { WitnessError, type HeadWitness } from '../storage/head-witness.js';
import type { ReplicaAck } from '../storage/replication.js';
import { ShardNotActiveError, StaleHeadError, type LogStorage, type ShardRecord, type TreeHead } from '../storage/log-storage.js';
import { checkForkGuard, ForkGuardError } from '../storage/fork-guard.js';
import type { LeafRebuilders } from '../x509/index.js';
import { FatalSequencerError } from './fatal-error.js';
import { LeafCheck } from './leaf-check.js';
import { sequenceBatch, type Placement } from './sequence-batch.js';

export { FatalSequencerError };

/** The log key could not sign (per batch: the batch fails with 503 and is retried). */
export class SigningError extends Error {
  override name = 'SigningError';
}

export interface SequencerOptions {
  /** A batch is committed as soon as it holds this many new entries. @defaultValue 1000 */
  poolSize: number;
  /** ...or this long after its first submission arrived. @defaultValue 50 */
  poolPeriodMs: number;
  /** An idle shard still signs a fresh STH this often. @defaultValue 1000 */
  sthIntervalMs?: number;
  /**
   * Identities committed recently that are remembered, so that retries and duplicates skip
   * the database lookup. @defaultValue 200000
   */
  recentMax?: number;
  /** The sequencer's clock (ms since epoch). */
  clock: () => number;
  /**
   * The fork guard's record of the newest published head, outside the database (by default
   * <data>/witness/<shard>.json). The database head must equal or extend it; every new head
   * is recorded here before its SCTs are released.
   */
  witness: HeadWitness;
  /**
   * With semi-synchronous replication required (log.require_replica_ack): asked after every
   * commit, before any SCT of the batch is released; a batch whose commit no replica holds
   * gets 503 + Retry-After instead of SCTs. Absent: a single database (the embedded default).
   */
  replicaAck?: ReplicaAck;
  /** Called once with a fatal error; the process should stop (a restart recovers). */
  onFatal?: (err: Error) => void;
  /** Called after every commit (metrics, logs). */
  onCommit?: (info: { shard: string; added: number; duplicates: number; treeSize: number; seconds: number }) => void;
  /** Called when a batch fails and its waiters get a 503 (per-batch error; the sequencer goes on). */
  onBatchError?: (info: { shard: string; submissions: number; err: Error }) => void;
  /** Called for each submission refused because its row would not rebuild to its entry (leaf-check.ts). */
  onEntryRefused?: (info: { shard: string; err: CtError }) => void;
  /** The leaf rebuild code (src/x509/leaf-rebuild.ts); tests inject other versions. */
  rebuilders?: LeafRebuilders;
  /** Called once when the shard stops accepting (its database state left 'active'); not an error of the process. */
  onRetired?: (info: { shard: string; head: TreeHead }) => void;
}

interface Waiter {
  sub: Submission;
  /** hex(sub.identity), computed once: the pool's maps are keyed by it. */
  key: string;
  resolve: (r: Sequenced) => void;
  reject: (e: unknown) => void;
}

const STALE_RETRIES = 100;
/**
 * Committed batches whose SCTs are being signed while the next batch commits. Signing (a
 * token's round trips, or its thread pool) then overlaps the database write instead of
 * adding to it; bounded, so memory stays bounded when signing is slower than committing.
 */
const SIGNING_BATCHES = 2;

export class ShardSequencer {
  private head!: TreeHead;
  private edge!: RightEdge;
  /** Every new head's timestamp must exceed this (the fork guard's recorded head may be newer than a restored database's). */
  private minTimestamp = 0;
  private pool: Waiter[] = [];
  private poolTimer: NodeJS.Timeout | undefined;
  private sthTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Issuers known to be stored (bounded: forgetting one only costs a redundant insert-ignore). */
  private readonly knownIssuers = new LRUCache<string, true>({ max: 100_000 });
  private recentCache: LRUCache<string, Placement> | undefined;
  private get recent(): LRUCache<string, Placement> {
    return (this.recentCache ??= new LRUCache({ max: this.opts.recentMax ?? 200_000 }));
  }
  private stopped = false;
  private fatal: Error | undefined;
  private retired = false;
  /** The last replica check failed: ask again before committing more (nothing more should sit on one machine). */
  private replicaLost = false;
  /** Committed batches whose SCTs are being signed (at most SIGNING_BATCHES). */
  private readonly signing = new Set<Promise<void>>();

  constructor(
    private readonly storage: LogStorage,
    private readonly shard: ShardRecord,
    private readonly signer: LogSigner,
    private readonly opts: SequencerOptions,
  ) {
    this.leafCheck = new LeafCheck(storage, { rebuilders: opts.rebuilders });
  }

  /** Every new row must rebuild to the leaf that is signed (docs/OPERATIONS.md "Trust boundary"). */
  private readonly leafCheck: LeafCheck;

  get treeHead(): TreeHead {
    return this.head;
  }

  /** True once the shard left 'active' under this sequencer (see retire()). */
  get isRetired(): boolean {
    return this.retired;
  }

  /** Loads the tree head and right edge from the database; fatal if they disagree. */
  async start(): Promise<void> {
    if (!equal(this.signer.logId, this.shard.logId)) {
      throw new FatalSequencerError(`shard ${this.shard.name}: the key file's log id ${hex(this.signer.logId)} is not the shard's ${hex(this.shard.logId)}`);
    }
    await this.reload();
    const every = this.opts.sthIntervalMs ?? 1000;
    this.sthTimer = setInterval(() => void this.refreshIdleHead(every), Math.max(50, Math.floor(every / 2)));
    this.sthTimer.unref();
  }

  private async reload(): Promise<void> {
    // The guard loads the record before it reads the database head: read the other way
    // round, another sequencer's commit and record in between would look like a rollback.
    const v = await this.guard(() => checkForkGuard(this.storage, this.shard, this.opts.witness, () => this.storage.currentHead(this.shard.id), { record: true }));
    const head = v.db;
    this.minTimestamp = v.minTimestamp;
    const want = rightEdgeTiles(head.treeSize);
    const tiles = await this.storage.readTiles(this.shard.id, want);
    let edge: RightEdge;
    try {
      edge = edgeFromTiles(head.treeSize, (level, index) => tiles.get(`${level}/${index}`));
    } catch (err) {
      // The database answered, and its tiles do not cover its own head: not transient.
      throw new FatalSequencerError(`shard ${this.shard.name}: ${(err as Error).message}`, { cause: err });
    }
    const root = rootOfEdge(edge);
    if (!equal(root, head.rootHash)) {
      throw new FatalSequencerError(`shard ${this.shard.name}: stored tiles give root ${hex(root)} at size ${head.treeSize}, the tree head says ${hex(head.rootHash)}`);
    }
    this.head = head;
    this.edge = edge;
  }

  /** Adds submissions to the pool; resolves each with its SCT data after its commit. */
  add(subs: Submission[], issuers: Issuer[]): Promise<Sequenced[]> {
    if (this.retired) return Promise.reject(this.notAccepting());
    if (this.fatal || this.stopped) {
      return Promise.reject(new CtError(503, 'sequencer_stopped', `the sequencer of shard ${this.shard.name} is stopped; retry later`, { retryAfter: 5 }));
    }
    for (const i of issuers) {
      const k = hex(i.fingerprint);
      if (!this.knownIssuers.has(k)) this.pendingIssuers.set(k, i);
    }
    this.leafCheck.learn(issuers);
    const ps = subs.map(
      (sub) =>
        new Promise<Sequenced>((resolve, reject) => {
          this.pool.push({ sub, key: hex(sub.identity), resolve, reject });
        }),
    );
    if (this.pool.length >= this.opts.poolSize) void this.kick();
    else this.poolTimer ??= setTimeout(() => void this.kick(), this.opts.poolPeriodMs);
    return Promise.all(ps);
  }

  /** Chain certificates not yet known to be stored, by fingerprint: each goes in once. */
  private readonly pendingIssuers = new Map<string, Issuer>();

  /** Runs flushes one at a time until the pool is empty. */
  private kick(): Promise<void> {
    clearTimeout(this.poolTimer);
    this.poolTimer = undefined;
    if (this.flushing) return this.flushing;
    return this.exclusive(async () => {
      while (this.pool.length > 0 && !this.fatal) await this.flush();
    });
  }

  /**
   * Runs f as the one database writer of this sequencer (a flush or an idle STH). The slot
   * is released when f settles, and only if it is still f's: f may settle synchronously.
   */
  private exclusive(f: () => Promise<void>): Promise<void> {
    const p = f().finally(() => {
      if (this.flushing === p) this.flushing = undefined;
      // Submissions that arrived while the slot was taken are flushed now.
      if (this.pool.length && !this.poolTimer && !this.fatal && !this.stopped) void this.kick();
    });
    this.flushing = p;
    return p;
  }

  private async flush(): Promise<void> {
    const batch = this.pool.splice(0, this.opts.poolSize);
    const issuers = [...this.pendingIssuers.values()];
    this.pendingIssuers.clear();
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const { added: n, answer } = await this.commit(batch, issuers);
        this.opts.onCommit?.({ shard: this.shard.name, added: n, duplicates: batch.length - n, treeSize: this.head.treeSize, seconds: (performance.now() - started) / 1000 });
        const p = answer().catch((err: unknown) => {
          // After the commit: the entries are logged, only their SCTs failed. No reload is
          // needed; the waiters retry and find their entries (remembered in commit()).
          const e = new CtError(503, 'signing_failed', `couldn't sign the SCTs of shard ${this.shard.name} (signing failed); retry`, { cause: err, retryAfter: 1 });
          for (const w of batch) w.reject(e);
          this.opts.onBatchError?.({ shard: this.shard.name, submissions: batch.length, err: err as Error });
        });
        this.signing.add(p);
        void p.finally(() => this.signing.delete(p));
        if (this.signing.size >= SIGNING_BATCHES) await Promise.race(this.signing);
        return;
      } catch (err) {
        if (err instanceof FatalSequencerError) return this.die(err, batch);
        // Read-only or frozen under us: this sequencer's work on the shard is over, and the
        // process goes on with its other shards.
        if (err instanceof ShardNotActiveError) return this.retireWith(batch);
        const stale = err instanceof StaleHeadError;
        if (err instanceof CtError) {
          // An answer already chosen for the submitters (no replica acknowledges): no reload needed.
          for (const w of batch) w.reject(err);
          this.opts.onBatchError?.({ shard: this.shard.name, submissions: batch.length, err });
          for (const i of issuers) this.pendingIssuers.set(hex(i.fingerprint), i);
          return;
        }
        try {
          await this.reload();
        } catch (reloadErr) {
          if (reloadErr instanceof FatalSequencerError) return this.die(reloadErr, batch);
          // The database is away; fail this batch (its waiters retry) and try again next batch.
        }
        if (stale && attempt < STALE_RETRIES) {
          // Another writer is active on this shard; back off a little so one of us wins.
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          continue;
        }
        // The cause's message stays out of the answer: a driver error can carry the whole
        // statement, and the answer is copied to every waiter (and into BullMQ job results).
        const what = err instanceof SigningError ? 'signing failed' : ((err as { code?: unknown }).code ?? (err as Error).name);
        const e = new CtError(503, stale ? 'contended' : err instanceof SigningError ? 'signing_failed' : 'commit_failed', `couldn't commit batch for shard ${this.shard.name} (${String(what)}); retry`, { cause: err, retryAfter: 1 });
        for (const w of batch) w.reject(e);
        this.opts.onBatchError?.({ shard: this.shard.name, submissions: batch.length, err: err as Error });
        // Issuers of a failed batch may not be stored; the next batch carries them again
        // (entries of later batches may cite them).
        for (const i of issuers) this.pendingIssuers.set(hex(i.fingerprint), i);
        return;
      }
    }
  }

  private die(err: Error, batch: Waiter[]): void {
    this.fatal = err;
    const e = new CtError(503, 'sequencer_stopped', `the sequencer of shard ${this.shard.name} stopped`, { cause: err, retryAfter: 5 });
    for (const w of [...batch, ...this.pool.splice(0)]) w.reject(e);
    this.opts.onFatal?.(err);
  }

  /**
   * One attempt at committing a batch; returns the number of new entries and the step that
   * signs the batch's SCTs and answers its waiters, to run once the commit is done.
   */
  private async commit(batch: Waiter[], issuers: Issuer[]): Promise<{ added: number; answer: () => Promise<void> }> {
    // 1. What the tree already holds: recent commits, then the database (one query).
    // Recent hits are copied out: remembering this batch's entries may evict them.
    const known = new Map<string, Placement>();
    const unknown: Uint8Array[] = [];
    for (const w of batch) {
      const k = w.key;
      if (known.has(k)) continue;
      const r = this.recent.get(k);
      if (r) known.set(k, r);
      else unknown.push(w.sub.identity);
    }
    const stored = unknown.length ? await this.storage.findByIdentities(this.shard.id, unknown) : new Map<string, Placement>();
    for (const [k, v] of stored) {
      // An entry beyond the head this sequencer checked and recorded (another writer's
      // commit, or an ambiguous commit of ours whose reload failed) must not be answered
      // before the guard has seen, and the record holds, a head that covers it.
      if (v.idx >= this.head.treeSize) throw new StaleHeadError(`shard ${this.shard.name}: entry ${v.idx} is beyond the checked head of size ${this.head.treeSize}`);
      known.set(k, v);
    }

    // The trust guard (leaf-check.ts): a new entry whose row would not rebuild to the entry
    // to be signed is refused alone, before it gets an index.
    const fresh = batch.filter((w) => !known.has(w.key));
    const chains = await this.leafCheck.chains(fresh.map((w) => w.sub));
    const refused = new Map<string, CtError>();
    for (const w of fresh) {
      const k = w.key;
      if (refused.has(k)) continue;
      const no = this.leafCheck.refusal(w.sub, chains);
      if (no) refused.set(k, no);
    }
    const accepted = refused.size ? batch.filter((w) => !refused.has(w.key)) : batch;

    // 2. The pure step: indexes, leaves, tiles and the new head (sequence-batch.ts).
    const size0 = this.head.treeSize;
    const next = sequenceBatch(
      { head: this.head, edge: this.edge, minTimestamp: this.minTimestamp },
      accepted.map((w) => w.sub),
      known,
      this.opts.clock(),
      this.leafCheck.version,
      // Each new leaf is hashed once, from its row's rebuilt entry (leaf-check.ts), and verify()
      // below recognises those hashes instead of hashing the same bytes again.
      { keys: accepted.map((w) => w.key), leafHash: (sub, idx, timestamp) => this.leafCheck.leafHash(sub, idx, timestamp) },
    );
    // What is stored must serve what is signed: a row that does not rebuild fails the batch.
    this.leafCheck.verify(next.entries, next.entries.map((e) => e.leafHash), chains);

    // 3. Commit, conditional on the head we extend (invariant 2), then record the new head
    // outside the database before anything of it is released (the fork guard).
    if (this.replicaLost && next.entries.length) await this.confirmReplicated();
    if (next.entries.length || issuers.length) {
      const head = next.head;
      head.signature = await this.sign(() => this.signer.signSth(head));
      await this.storage.appendBatch(this.shard.id, { expected: { treeSize: size0, rootHash: this.head.rootHash }, entries: next.entries, issuers, tiles: next.tiles, head });
      this.head = head;
      this.edge = next.edge;
      if (next.entries.length) await this.guard(() => this.opts.witness.record(head));
    }
    for (const i of issuers) this.knownIssuers.set(hex(i.fingerprint), true);
    // A replica must hold the batch (and any earlier entry a duplicate points at) before its
    // SCTs exist: otherwise the loss of this one machine would lose entries that have SCTs.
    await this.confirmReplicated();

    // 4. Only now sign the SCTs and answer (invariant 1), in answer(), which flush() runs
    // while the next batch commits. Each answer names its submission. The batch's SCTs are
    // signed concurrently (a token signs them on a pool of sessions); none is answered until
    // all are signed, so a signing failure fails the whole batch and no waiter is answered
    // twice. The entries are committed either way: remembered now, so that a retry finds them.
    for (const [k, v] of next.assigned) this.remember(k, v);
    // Refused submissions are answered now (no SCT); the accepted ones in answer(), whose
    // answers follow `accepted`: the batch in order, without the refused.
    for (const w of batch) {
      const no = refused.size ? refused.get(w.key) : undefined;
      if (no) {
        w.reject(no);
        this.opts.onEntryRefused?.({ shard: this.shard.name, err: no });
      }
    }
    for (const [k, v] of stored) this.remember(k, v);
    const answer = async (): Promise<void> => {
      const answers = await Promise.all(
        accepted.map((w, i) => {
          const a = next.answers[i]!;
          return this.sct(w.sub, a.idx, a.timestamp, a.duplicate);
        }),
      );
      accepted.forEach((w, i) => w.resolve(answers[i]!));
    };
    return { added: next.entries.length, answer };
  }

  private async confirmReplicated(): Promise<void> {
    if (!this.opts.replicaAck) return;
    try {
      await this.opts.replicaAck.confirm();
      this.replicaLost = false;
    } catch (err) {
      this.replicaLost = true;
      throw err;
    }
  }

  private remember(k: string, v: Placement): void {
    this.recent.set(k, v);
  }

  private async sct(sub: Submission, idx: number, timestamp: number, duplicate: boolean): Promise<Sequenced> {
    const extensions = encodeCtExtensions({ leafIndex: idx });
    const entry: SignedEntry = sub.entry;
    const sct = await this.sign(() => this.signer.signSct(timestamp, entry, extensions));
    return { identity: sub.identity, idx, timestamp, extensions, signature: sct.signature, duplicate, signedDigest: sctSignedDigest(timestamp, entry, extensions) };
  }

  /**
   * Runs a fork-guard step: a head the guard refuses, or a record that cannot be read or
   * written, stops the sequencer (no SCT may go out for a head that is not recorded).
   */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof ForkGuardError) throw new FatalSequencerError(err.message, { cause: err });
      if (err instanceof WitnessError) throw new FatalSequencerError(`fork guard: shard ${this.shard.name}: ${err.message} (check the disk under --data)`, { cause: err });
      throw err;
    }
  }

  private async sign<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw new SigningError(`couldn't sign for shard ${this.shard.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Signs a fresh STH over the same tree when nothing was committed for a while. */
  private async refreshIdleHead(every: number): Promise<void> {
    if (this.flushing || this.stopped || this.retired || this.fatal || this.pool.length) return;
    if (this.opts.clock() - this.head.timestamp < every) return;
    await this.exclusive(async () => {
      try {
        const head: TreeHead = { ...this.head, timestamp: Math.max(this.opts.clock(), this.head.timestamp + 1, this.minTimestamp + 1), signature: new Uint8Array() };
        head.signature = await this.sign(() => this.signer.signSth(head));
        await this.storage.publishHead(this.shard.id, this.head, head);
        this.head = head;
      } catch (err) {
        if (err instanceof FatalSequencerError) return this.die(err, []);
        if (err instanceof ShardNotActiveError) return this.retireWith([]);
        await this.reload().catch((reloadErr: unknown) => {
          // A transient error is retried at the next tick; a fatal one stops us now.
          if (reloadErr instanceof FatalSequencerError) this.die(reloadErr, []);
        });
      }
    });
  }

  /**
   * The shard left 'active' (the database says so): stop re-signing, refuse what is pooled
   * and what comes with 403. What was committed before the state changed is in the tree;
   * what was not never will be (every commit is conditional on the state). Idempotent.
   */
  retire(): void {
    this.retireWith([]);
  }

  private retireWith(batch: Waiter[]): void {
    clearInterval(this.sthTimer);
    clearTimeout(this.poolTimer);
    const first = !this.retired;
    this.retired = true;
    const e = this.notAccepting();
    for (const w of [...batch, ...this.pool.splice(0)]) w.reject(e);
    if (first) this.opts.onRetired?.({ shard: this.shard.name, head: this.head });
  }

  private notAccepting(): CtError {
    return new CtError(403, 'shard_not_active', `shard ${this.shard.name} is no longer active and accepts no new entries`);
  }

  /** Commits what is pooled, then stops taking submissions. */
  async stop(): Promise<void> {
    clearInterval(this.sthTimer);
    if (this.pool.length) await this.kick();
    await this.flushing;
    await Promise.allSettled([...this.signing]);
    this.stopped = true;
  }
}
