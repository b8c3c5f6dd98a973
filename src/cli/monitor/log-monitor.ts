// The checks on one log (RFC 6962 §5.3 "Monitor", and what ct-woodpecker and Chrome's
// compliance monitoring watch): each round fetches the STH, verifies its signature, its age
// against the MMD and a staleness limit, that it is consistent with the last STH this monitor
// verified (a proof from get-sth-consistency), that the tree never shrinks, that the
// static-ct-api checkpoint is the same tree head, optionally that the entries rebuild the
// signed root, and follows the canary submissions until each is provably included.
//
// An STH that fails a check is never adopted: the last verified one stays the reference, so
// a log that forks or rolls back keeps raising its alarm until an operator looks.
import { leafHash, verifyConsistency, verifyInclusion } from '../../merkle/index.js';
import { logIdFromSpki, verifySth } from '../../signing/index.js';
import { decodeMerkleTreeLeaf, noteKeyId, parseRfc6962NoteSignature, parseSignedCheckpoint, type Sct } from '../../tls/index.js';
import { b64, equal, hex } from '../../util/bytes.js';
import { TestIssuer, type TestCertKind } from '../test-issuer.js';
import { CompactRange } from './compact-range.js';
import { CtClient, CtClientError, type SignedTreeHead } from './ct-client.js';
import type { MonitorMetrics } from '../../metrics/metrics.js';
import type { LogState, StoredSth } from './monitor-state.js';

/** The checks, as the `check` label of the monitor's metrics and alarms. */
export const CHECKS = ['sth', 'freshness', 'consistency', 'entries', 'checkpoint', 'canary_submit', 'canary_inclusion'] as const;
export type Check = (typeof CHECKS)[number];

/** One log to watch: from `--log` or a log list. */
export interface MonitorTarget {
  /** The log's base URL (metrics and alarms name the log by it). */
  url: string;
  /** DER SubjectPublicKeyInfo of the log key. */
  key: Uint8Array;
  /** Maximum Merge Delay, seconds. */
  mmdSeconds: number;
  /**
   * The log accepts no more entries (a frozen or read-only shard; `readonly` in a log list):
   * its unchanging STH is expected, not stale, and no canaries are sent.
   */
  frozen?: boolean;
  /** A read-only log's final tree head (log list `final_tree_head`), which every STH must match. */
  finalTreeHead?: { treeSize: number; rootHash: Uint8Array };
  /** The log's temporal interval [start, end) (ms): canary NotAfter falls inside it. */
  notAfterWindow?: { start: number; end: number };
}

export interface Problem {
  log: string;
  check: Check;
  /** Bounded: bad_signature, stale, older_than_mmd, tree_shrank, inconsistent, root_mismatch, inclusion_overdue, bad_sct, bad_proof, http_5xx, ... */
  kind: string;
  message: string;
  [field: string]: unknown;
}

export interface LogMonitorOptions {
  target: MonitorTarget;
  metrics: MonitorMetrics;
  state: LogState;
  clock: () => number;
  /** Alarm when the latest STH is older than this (ms), besides the MMD. */
  maxSthAgeMs: number;
  /** Fetch and hash the new entries (get-entries) at most this many per round; 0 disables. */
  entriesPerRound: number;
  /** Issues canary certificates; none are sent without it. */
  issuer?: TestIssuer;
  timeoutMs: number;
  onProblem: (p: Problem) => void;
}

/** Clock skew tolerated before an STH timestamp counts as from the future. */
const FUTURE_SLACK_MS = 5 * 60_000;
/** Canaries waiting for inclusion, at most; the oldest is dropped (with an alarm) first. */
const MAX_PENDING = 1000;
const CANARY_KINDS: TestCertKind[] = ['x509', 'precert', 'psc'];
const PROOFS_PER_ROUND = 100;

const toStored = (s: SignedTreeHead): StoredSth => ({ treeSize: s.treeSize, timestamp: s.timestamp, rootHash: hex(s.rootHash), signature: b64(s.signature) });
const rootOf = (s: StoredSth) => new Uint8Array(Buffer.from(s.rootHash, 'hex'));

export class LogMonitor {
  readonly client: CtClient;
  private readonly name: string;
  private readonly logId: Uint8Array;
  private canaryTurn = 0;

  constructor(private readonly o: LogMonitorOptions) {
    this.client = new CtClient(o.target.url, o.timeoutMs);
    this.name = this.client.url;
    this.logId = logIdFromSpki(o.target.key);
  }

  /** `--once` stops waiting: each canary still waiting is a problem (not yet an MMD breach). */
  giveUpWaiting(waitedMs: number): void {
    for (const c of this.o.state.canaries.filter((x) => !x.overdue)) {
      this.problem('canary_inclusion', 'inclusion_timeout', `a canary ${c.kind} with an SCT from ${new Date(c.sctTimestamp).toISOString()} is not included after waiting ${Math.round(waitedMs / 1000)} s (the MMD is ${this.o.target.mmdSeconds} s)`, { leaf_hash: c.leafHash });
    }
  }

  /** Canaries with an SCT, not yet included and not yet overdue. */
  get waitingCanaries(): number {
    return this.o.state.canaries.filter((c) => !c.overdue).length;
  }

  private problem(check: Check, kind: string, message: string, fields: Record<string, unknown> = {}): void {
    this.o.metrics.failures.inc({ log: this.name, check, kind });
    this.o.onProblem({ log: this.name, check, kind, message, ...fields });
  }

  private ok(check: Check): void {
    this.o.metrics.lastSuccess.set({ log: this.name, check }, Math.floor(this.o.clock() / 1000));
  }

  /** Runs a check; a client error becomes a problem of its kind. Returns false on failure. */
  private async guard(check: Check, fn: () => Promise<boolean>): Promise<boolean> {
    try {
      const passed = await fn();
      if (passed) this.ok(check);
      return passed;
    } catch (err) {
      if (err instanceof CtClientError) this.problem(check, err.kind, err.message, err.status ? { status: err.status } : {});
      else this.problem(check, 'error', (err as Error).message);
      return false;
    }
  }

  /** One round of every check; `submit` false skips sending a new canary (inclusion is still checked). */
  async round(opts: { submit?: boolean } = {}): Promise<void> {
    let sth: SignedTreeHead | undefined;
    const fetched = await this.guard('sth', async () => {
      sth = await this.client.getSth();
      if (!verifySth(this.o.target.key, sth, sth.signature)) {
        this.problem('sth', 'bad_signature', `get-sth: the tree head signature of size ${sth.treeSize} does not verify with the log key`, { tree_size: sth.treeSize });
        return false;
      }
      return true;
    });
    if (fetched && sth) {
      await this.guard('freshness', async () => this.checkFreshness(sth!));
      await this.guard('consistency', async () => this.checkConsistency(sth!));
      await this.guard('checkpoint', async () => this.checkCheckpoint());
      if (this.o.entriesPerRound > 0) await this.guard('entries', async () => this.checkEntries());
    }
    if (this.o.issuer && !this.o.target.frozen && opts.submit !== false) await this.guard('canary_submit', async () => this.submitCanary());
    // Inclusion is proven against the STH verified in this round, never an unverified one.
    if (fetched && this.o.state.canaries.length) await this.guard('canary_inclusion', async () => this.checkInclusion());
    this.o.metrics.canaryPending.set({ log: this.name }, this.o.state.canaries.length);
    this.o.metrics.canaryOverdue.set({ log: this.name }, this.o.state.canaries.filter((c) => c.overdue).length);
  }

  private checkFreshness(sth: SignedTreeHead): boolean {
    const now = this.o.clock();
    const age = now - sth.timestamp;
    this.o.metrics.sthAge.set({ log: this.name }, Math.max(0, age) / 1000);
    if (age < -FUTURE_SLACK_MS) {
      this.problem('freshness', 'future_timestamp', `the STH timestamp is ${Math.round(-age / 1000)} s in the future`, { sth_timestamp: sth.timestamp });
      return false;
    }
    // A frozen shard signs no new tree heads: its last one ageing is what frozen means.
    if (this.o.target.frozen) return true;
    const mmdMs = this.o.target.mmdSeconds * 1000;
    if (age > mmdMs) {
      this.problem('freshness', 'older_than_mmd', `the latest STH is ${Math.round(age / 1000)} s old, over the MMD of ${this.o.target.mmdSeconds} s (RFC 6962 §3.5: a log signs a tree head at least every MMD)`, { sth_age_seconds: age / 1000 });
      return false;
    }
    if (age > this.o.maxSthAgeMs) {
      this.problem('freshness', 'stale', `the latest STH is ${Math.round(age / 1000)} s old, over the staleness limit of ${this.o.maxSthAgeMs / 1000} s`, { sth_age_seconds: age / 1000 });
      return false;
    }
    return true;
  }

  private async checkConsistency(sth: SignedTreeHead): Promise<boolean> {
    const st = this.o.state;
    const fin = this.o.target.finalTreeHead;
    if (fin && (fin.treeSize !== sth.treeSize || !equal(fin.rootHash, sth.rootHash))) {
      this.problem('consistency', 'inconsistent', `a read-only log answered tree size ${sth.treeSize} root ${b64(sth.rootHash)}, not its final tree head (size ${fin.treeSize}, root ${b64(fin.rootHash)})`);
      return false;
    }
    const prev = st.sth;
    const fields = { tree_size: sth.treeSize, root: b64(sth.rootHash), previous_tree_size: prev?.treeSize, previous_root: prev ? Buffer.from(prev.rootHash, 'hex').toString('base64') : undefined };
    if (prev && sth.treeSize < prev.treeSize) {
      this.problem('consistency', 'tree_shrank', `the tree went backwards: size ${sth.treeSize} after the verified size ${prev.treeSize}`, fields);
      return false;
    }
    if (prev && sth.treeSize === prev.treeSize) {
      if (!equal(sth.rootHash, rootOf(prev))) {
        this.problem('consistency', 'inconsistent', `two different roots signed for tree size ${sth.treeSize}: the log has forked`, fields);
        return false;
      }
    } else if (prev && prev.treeSize > 0) {
      const proof = await this.client.getConsistency(prev.treeSize, sth.treeSize);
      try {
        verifyConsistency(prev.treeSize, sth.treeSize, proof, rootOf(prev), sth.rootHash);
      } catch (err) {
        this.problem('consistency', 'inconsistent', `tree size ${sth.treeSize} is not consistent with the verified size ${prev.treeSize}: ${(err as Error).message}`, fields);
        return false;
      }
    }
    if (prev && sth.timestamp > prev.timestamp && sth.treeSize > prev.treeSize) {
      this.o.metrics.growthRate.set({ log: this.name }, (sth.treeSize - prev.treeSize) / ((sth.timestamp - prev.timestamp) / 1000));
    }
    // Only a newer tree head replaces the reference (an equal one with an older timestamp is fine too).
    if (!prev || sth.treeSize > prev.treeSize || sth.timestamp > prev.timestamp) st.sth = toStored(sth);
    this.o.metrics.treeSize.set({ log: this.name }, st.sth!.treeSize);
    return true;
  }

  /** static-ct-api: the checkpoint is a signed note of a tree head consistent with get-sth's. */
  private async checkCheckpoint(): Promise<boolean> {
    const text = await this.client.getCheckpoint();
    if (text === undefined) return true; // an RFC 6962-only log
    const ref = this.o.state.sth;
    if (!ref) return true;
    let cp;
    try {
      cp = parseSignedCheckpoint(text);
    } catch (err) {
      // Some RFC 6962 logs answer unknown paths with 200 and a web page: not a checkpoint.
      if (!/^[^\n]+\n\d+\n[A-Za-z0-9+/=]+\n/.test(text)) return true;
      this.problem('checkpoint', 'malformed', `checkpoint: ${(err as Error).message}`);
      return false;
    }
    const id = noteKeyId(cp.origin, this.logId);
    const line = cp.signatures.find((s) => equal(s.keyId, id));
    if (!line) {
      this.problem('checkpoint', 'bad_signature', `checkpoint: no signature line with this log's key ID for origin ${cp.origin}`);
      return false;
    }
    let ok = false;
    let timestamp = 0;
    try {
      const ns = parseRfc6962NoteSignature(line.signature);
      timestamp = ns.timestamp;
      ok = verifySth(this.o.target.key, { treeSize: cp.treeSize, timestamp, rootHash: cp.rootHash }, ns.treeHeadSignature);
    } catch {
      ok = false;
    }
    if (!ok) {
      this.problem('checkpoint', 'bad_signature', `checkpoint of size ${cp.treeSize}: the signature does not verify with the log key`);
      return false;
    }
    const refRoot = rootOf(ref);
    const fields = { checkpoint_size: cp.treeSize, checkpoint_root: b64(cp.rootHash), sth_size: ref.treeSize, sth_root: b64(refRoot) };
    if (cp.treeSize === ref.treeSize) {
      if (!equal(cp.rootHash, refRoot)) {
        this.problem('checkpoint', 'mismatch', `the checkpoint and get-sth sign different roots for tree size ${cp.treeSize}`, fields);
        return false;
      }
      return true;
    }
    // Fetched a moment apart, they may differ in size; then the smaller must be a prefix of the larger.
    const [a, b] = cp.treeSize < ref.treeSize ? [{ s: cp.treeSize, r: cp.rootHash }, { s: ref.treeSize, r: refRoot }] : [{ s: ref.treeSize, r: refRoot }, { s: cp.treeSize, r: cp.rootHash }];
    if (a.s === 0) return true;
    const proof = await this.client.getConsistency(a.s, b.s);
    try {
      verifyConsistency(a.s, b.s, proof, a.r, b.r);
    } catch (err) {
      this.problem('checkpoint', 'mismatch', `the checkpoint (size ${cp.treeSize}) and get-sth (size ${ref.treeSize}) are not consistent: ${(err as Error).message}`, fields);
      return false;
    }
    return true;
  }

  /** Rebuilds the tree from get-entries towards a verified STH and compares the roots. */
  private async checkEntries(): Promise<boolean> {
    const st = this.o.state;
    if (!st.sth) return true;
    st.entries ??= { range: CompactRange.empty().toJson() };
    const target = (st.entries.target ??= st.sth);
    const range = CompactRange.fromJson(st.entries.range);
    let budget = this.o.entriesPerRound;
    try {
      while (range.size < target.treeSize && budget > 0) {
        const end = Math.min(target.treeSize, range.size + budget) - 1;
        const entries = await this.client.getEntries(range.size, end);
        for (const [i, e] of entries.entries()) {
          try {
            decodeMerkleTreeLeaf(e.leafInput);
          } catch (err) {
            this.problem('entries', 'malformed', `get-entries: entry ${range.size} is not a MerkleTreeLeaf: ${(err as Error).message}`, { index: range.size + i });
            return false;
          }
          range.append(leafHash(e.leafInput));
        }
        budget -= entries.length;
      }
    } finally {
      st.entries.range = range.toJson();
    }
    if (range.size < target.treeSize) return true; // more next round
    const root = range.root();
    if (!equal(root, rootOf(target))) {
      this.problem('entries', 'root_mismatch', `the ${target.treeSize} entries served by get-entries hash to ${b64(root)}, not the signed root ${b64(rootOf(target))}`, { tree_size: target.treeSize });
      // Start over: the alarm repeats until the log serves entries that match.
      st.entries = undefined;
      return false;
    }
    st.entries.target = undefined;
    return true;
  }

  private canaryNotAfter(now: number): number {
    const w = this.o.target.notAfterWindow;
    const want = now + 90 * 86400_000;
    if (!w || (want >= w.start && want < w.end)) return want;
    return Math.floor(w.start + (w.end - w.start) / 2);
  }

  private async submitCanary(): Promise<boolean> {
    const now = this.o.clock();
    const kind = CANARY_KINDS[this.canaryTurn++ % CANARY_KINDS.length]!;
    const notAfter = this.canaryNotAfter(now);
    const cert = this.o.issuer!.make(kind, Math.min(now - 3600_000, notAfter - 86400_000), notAfter, now);
    const sct: Sct = await this.client.addChain(cert.kind, cert.chain);
    if (!TestIssuer.sctValid(this.o.target.key, sct, cert)) {
      this.problem('canary_submit', 'bad_sct', `the SCT for a canary ${kind} does not verify with the log key`);
      return false;
    }
    const pending = this.o.state.canaries;
    pending.push({ leafHash: hex(TestIssuer.leafHash(sct, cert)), kind: cert.kind, sctTimestamp: sct.timestamp });
    if (pending.length > MAX_PENDING) {
      const dropped = pending.shift()!;
      this.problem('canary_inclusion', 'inclusion_overdue', `more than ${MAX_PENDING} canaries wait for inclusion; the oldest (SCT at ${new Date(dropped.sctTimestamp).toISOString()}) is no longer followed`, { leaf_hash: dropped.leafHash });
    }
    return true;
  }

  private async checkInclusion(): Promise<boolean> {
    const sth = this.o.state.sth;
    if (!sth || sth.treeSize === 0) return true;
    const now = this.o.clock();
    const mmdMs = this.o.target.mmdSeconds * 1000;
    let passed = true;
    const still = [];
    // At most PROOFS_PER_ROUND lookups a round, the canaries still within their MMD first:
    // a log that dropped many entries must not turn each round into thousands of requests.
    const due = [...this.o.state.canaries.filter((c) => !c.overdue), ...this.o.state.canaries.filter((c) => c.overdue)];
    const checked = new Set(due.slice(0, PROOFS_PER_ROUND));
    for (const c of this.o.state.canaries) {
      if (!checked.has(c)) {
        if (c.overdue) passed = false;
        still.push(c);
        continue;
      }
      const hash = new Uint8Array(Buffer.from(c.leafHash, 'hex'));
      const proof = await this.client.getProofByHash(hash, sth.treeSize);
      if (proof) {
        try {
          verifyInclusion(hash, proof.leafIndex, sth.treeSize, proof.auditPath, rootOf(sth));
          this.o.metrics.inclusionLatency.observe({ log: this.name }, Math.max(0, now - c.sctTimestamp) / 1000);
          continue;
        } catch (err) {
          this.problem('canary_inclusion', 'bad_proof', `get-proof-by-hash: the proof for a canary at index ${proof.leafIndex} does not lead to the signed root of size ${sth.treeSize}: ${(err as Error).message}`, { leaf_hash: c.leafHash });
          passed = false;
        }
      }
      if (now - c.sctTimestamp > mmdMs && !c.overdue) {
        c.overdue = true;
        this.problem('canary_inclusion', 'inclusion_overdue', `a canary ${c.kind} with an SCT from ${new Date(c.sctTimestamp).toISOString()} is not in the tree of size ${sth.treeSize} after the MMD of ${this.o.target.mmdSeconds} s`, { leaf_hash: c.leafHash, sct_timestamp: c.sctTimestamp });
      }
      if (c.overdue) passed = false;
      still.push(c);
    }
    this.o.state.canaries = still;
    return passed;
  }
}
