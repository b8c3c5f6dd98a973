// The CTFE side of the queue, shared by both implementations: submissions of the last ten
// milliseconds travel as one batch (one BullMQ job per batch, not per submission: a job
// costs ~300 µs of CPU over its life, docs/PERFORMANCE.md), concurrent duplicates collapse onto
// one in-flight promise, and every caller waits at most until its deadline.
import { equal } from '../util/bytes.js';
import { unavailable } from '../util/errors.js';
import { identityKey, type Issuer, type Sequenced, type Submission } from './submission.js';

export interface MicroBatcherOptions {
  /**
   * How long the first submission of a batch waits for company. Every queue message costs
   * BullMQ's per-job work on both sides and in Redis, and one full SCT verify in the CTFE
   * (docs/DESIGN.md "Every answer belongs to its submission"): at 3,000/s, 10 ms makes
   * messages of ~30 instead of ~6, for 10 ms on an answer the sequencer's own pool
   * (pool_period_ms) already delays by more. @defaultValue 10
   */
  lingerMs?: number;
  /** A batch is sent as soon as it holds this many submissions. @defaultValue 256 */
  maxBatch?: number;
  /** Submissions waiting or in flight above which submit() answers 429. @defaultValue 20000 */
  maxInFlight?: number;
}

type Send = (subs: Submission[], issuers: Issuer[]) => Promise<Sequenced[]>;

interface Pending {
  sub: Submission;
  issuers: Issuer[];
  resolve: (r: Sequenced) => void;
  reject: (e: unknown) => void;
}

export class MicroBatcher {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<string, Promise<Sequenced>>();
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly send: Send, opts: MicroBatcherOptions = {}) {
    this.lingerMs = opts.lingerMs ?? 10;
    this.maxBatch = opts.maxBatch ?? 256;
    this.maxInFlight = opts.maxInFlight ?? 20000;
  }

  get depth(): number {
    return this.inFlight.size;
  }

  submit(sub: Submission, issuers: Issuer[], deadlineMs: number): Promise<Sequenced> {
    const key = identityKey(sub.identity);
    let p = this.inFlight.get(key);
    if (!p) {
      if (this.inFlight.size >= this.maxInFlight) {
        return Promise.reject(unavailable(429, 'queue_full', `too many submissions in flight (${this.inFlight.size}); retry shortly`, 1));
      }
      p = new Promise<Sequenced>((resolve, reject) => {
        this.pending.push({ sub, issuers, resolve, reject });
        if (this.pending.length >= this.maxBatch) this.flush();
        else this.timer ??= setTimeout(() => this.flush(), this.lingerMs);
      });
      this.inFlight.set(key, p);
      const forget = () => this.inFlight.delete(key);
      p.then(forget, forget);
    }
    return withDeadline(p, deadlineMs);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    // Each chain certificate travels once per batch.
    const issuers = new Map<string, Issuer>();
    for (const p of batch) for (const i of p.issuers) issuers.set(identityKey(i.fingerprint), i);
    this.send(
      batch.map((p) => p.sub),
      [...issuers.values()],
    ).then(
      (results) => {
        // Every answer must name its own submission: an answer for another one (a queue
        // that lost a job and reused its id, a bug) is never handed out as an SCT. The
        // submission is retryable; its entry, if it was logged, is found by dedup.
        const token = {};
        batch.forEach((p, i) => {
          const r = results[i];
          if (r && results.length === batch.length && equal(r.identity, p.sub.identity)) p.resolve({ ...r, batch: token });
          else p.reject(unavailable(503, 'answer_mismatch', 'the sequencer\'s answer did not match this submission; retry', 1));
        });
      },
      (err) => {
        for (const p of batch) p.reject(err);
      },
    );
  }

  /** Rejects everything still waiting for a batch (shutdown). */
  close(): void {
    clearTimeout(this.timer);
    const err = unavailable(503, 'shutting_down', 'the log is shutting down; retry', 1);
    for (const p of this.pending) p.reject(err);
    this.pending = [];
  }
}

/** Races p against a deadline; past it, a 503 with Retry-After (the entry may still land; a retry finds it by dedup). */
export function withDeadline<T>(p: Promise<T>, deadlineMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(
      () => reject(unavailable(503, 'deadline', `not sequenced within ${deadlineMs} ms; retry: a retry returns the same SCT once it is logged`, 1)),
      deadlineMs,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
