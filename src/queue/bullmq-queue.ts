// Production queue: BullMQ on Redis. One job carries one micro-batch of submissions (a job
// per submission saturates near 2,000/s, docs/PERFORMANCE.md); the sequencer's return value
// carries one result per submission. Jobs are kept for a while after completion because
// removeOnComplete: true races with waitUntilFinished (docs/PERFORMANCE.md, known gotchas).
//
// Redis is not on the durability path, and it may lose everything (a restart without
// persistence). Two rules keep such a loss from mis-answering anyone:
//  - job ids are random UUIDs, never BullMQ's counter, which restarts at 1 after a loss: a
//    waiter must never receive the result of a later job that got its job's id;
//  - a job Redis lost is noticed within about a second (a sweep asks Redis for the state of
//    every job waited on for over a second) and its waiters are freed with 503 + Retry-After,
//    so that retries are sequenced at once instead of waiting on a dead job.
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from '../log/logger.js';
import { CtError, unavailable } from '../util/errors.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import { QueueAuth, QueueAuthError } from './queue-auth.js';
import type { BatchHandler, SubmissionConsumer, SubmissionQueue } from './queue.js';
import { decodeBatch, decodeResult, encodeBatch, encodeResult, type WireBatch, type WireResult } from './submission.js';
import type { Issuer, Sequenced, Submission } from './submission.js';
import { redisOptions } from './redis-url.js';

/** How often jobs waited on are checked for having been lost by Redis, and how old they must be. */
const LOST_JOB_SWEEP_MS = 1000;

export interface BullOptions extends MicroBatcherOptions {
  /** redis:// or rediss:// URL (src/queue/redis-url.ts). */
  redisUrl: string;
  /**
   * The key that authenticates every message to and from the sequencer (queue-auth.ts);
   * the sequencer must hold the same one. At least 32 bytes. Redis never sees it. Several
   * during a rotation: the first seals, any of them opens.
   */
  queueKey: Uint8Array | readonly Uint8Array[];
  /** Key prefix in Redis; tests use a fresh one each. @defaultValue "ctlog" */
  prefix?: string;
  /**
   * How long a batch waits for its job's result before its submissions are released. A job
   * Redis lost (a restart without it) never finishes; without this bound its identities
   * would stay in flight, and every retry of them would wait on it, until the CTFE restarts.
   * A released submission's retry is enqueued again; dedup makes that safe. @defaultValue 60000
   */
  waitMs?: number;
  /** Where Redis connection errors go (JSON, once per window if the logger throttles). */
  log?: Logger;
}

/**
 * Routes a BullMQ object's 'error' events to the log. Without a listener BullMQ prints them
 * raw (console.error, multi-line stacks) outside the JSON log. Answers never carry these
 * messages: they name Redis keys.
 */
function logErrors(emitter: { on(event: 'error', f: (err: Error) => void): unknown }, what: string, log: Logger | undefined): void {
  emitter.on('error', (err) => log?.warn(`queue: ${what}: Redis error`, { reason: 'redis', err: err.message }));
}

export function redisConnection(url: string): ConnectionOptions {
  // BullMQ workers block on Redis; commands must wait for a reconnect rather than fail.
  return { ...redisOptions(url), maxRetriesPerRequest: null } as ConnectionOptions;
}

function queueAuth(key: Uint8Array | readonly Uint8Array[] | undefined): QueueAuth {
  if (!key) throw new Error('the Redis queue needs a queue key shared by the CTFE and the sequencer (CTLOG_QUEUE_KEY or --queue-key-file): Redis is not trusted to say what gets signed');
  return new QueueAuth(key);
}

const queueName = (shard: string) => `ctlog-${shard}`;

const JOB_OPTS = {
  // A finished job stays only until its waiters have read its result (milliseconds; the
  // lost-job sweep asks after a second). Jobs carry ~30 submissions each (micro-batcher.ts,
  // ~100 KB): 2,000 of them are ~20 s at 3,000 submissions/s and ~200 MB of Redis.
  removeOnComplete: { age: 600, count: 2000 },
  removeOnFail: { age: 3600, count: 10000 },
  attempts: 1,
};

interface Watched {
  queue: Queue;
  since: number;
  lost: (err: CtError) => void;
}

/** The CTFE's side. */
export class BullSubmissionQueue implements SubmissionQueue {
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents; batcher: MicroBatcher; ready: Promise<unknown> }>();
  private readonly connection: ConnectionOptions;
  private readonly prefix: string;
  private readonly auth: QueueAuth;
  /** Jobs whose results are awaited, by job id; bounded by the batchers' maxInFlight. */
  private readonly watched = new Map<string, Watched>();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly opts: BullOptions) {
    this.auth = queueAuth(opts.queueKey);
    this.connection = redisConnection(opts.redisUrl);
    this.prefix = opts.prefix ?? 'ctlog';
    this.sweeper = setInterval(() => void this.sweepLostJobs(), LOST_JOB_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Frees the waiters of every job, waited on for over a second, that Redis no longer has. */
  private async sweepLostJobs(): Promise<void> {
    if (this.sweeping || this.watched.size === 0) return;
    this.sweeping = true;
    try {
      const old = performance.now() - LOST_JOB_SWEEP_MS;
      const due = [...this.watched].filter(([, w]) => w.since <= old);
      const states = await Promise.all(due.map(([id, w]) => w.queue.getJobState(id).catch(() => 'error' as const)));
      due.forEach(([id, w], i) => {
        if (states[i] !== 'unknown' || !this.watched.has(id)) return;
        this.watched.delete(id);
        w.lost(unavailable(503, 'job_lost', 'the queue lost this submission (Redis restarted); retry', 1));
      });
    } finally {
      this.sweeping = false;
    }
  }

  private forShard(shard: string) {
    let q = this.queues.get(shard);
    if (!q) {
      const queue = new Queue(queueName(shard), { connection: this.connection, prefix: this.prefix });
      const events = new QueueEvents(queueName(shard), { connection: this.connection, prefix: this.prefix });
      // Every batch in flight waits on these emitters (waitUntilFinished adds listeners for
      // the job's events and for closing): hundreds at once is normal, not a leak.
      queue.setMaxListeners(0);
      events.setMaxListeners(0);
      logErrors(queue, 'queue', this.opts.log);
      logErrors(events, 'events', this.opts.log);
      const ready = events.waitUntilReady();
      const batcher = new MicroBatcher(async (subs, issuers) => {
        await ready;
        let job: Job;
        const jobId = randomUUID();
        const request = this.auth.seal(shard, encodeBatch(subs, issuers), Date.now());
        try {
          job = await queue.add('batch', request, { ...JOB_OPTS, jobId });
        } catch (err) {
          this.opts.log?.warn("queue: couldn't enqueue", { reason: 'queue_unavailable', err: (err as Error).message });
          throw new CtError(503, 'queue_unavailable', 'the submission queue is unavailable; retry shortly', { cause: err, retryAfter: 2 });
        }
        let results: WireResult[];
        try {
          const lost = new Promise<never>((_, reject) => this.watched.set(jobId, { queue, since: performance.now(), lost: reject }));
          const finished = job.waitUntilFinished(events, this.opts.waitMs ?? 60_000).then(
            // Only an answer the sequencer sealed for this very request is used.
            (sealed: unknown) => this.auth.openResult(request.mac, sealed) as WireResult[],
            (err: Error) => {
              this.opts.log?.warn('queue: sequencing failed', { reason: 'sequencer_failed', err: err.message });
              throw new CtError(503, 'sequencer_failed', 'sequencing failed; retry shortly', { cause: err, retryAfter: 1 });
            },
          );
          results = await Promise.race([finished, lost]);
        } finally {
          this.watched.delete(jobId);
        }
        return results.map((r) => {
          if (!r.ok) throw new CtError(r.status, r.reason, r.msg, { retryAfter: r.ra ?? (r.status === 503 || r.status === 429 ? 1 : undefined) });
          return decodeResult(r);
        });
      }, this.opts);
      q = { queue, events, batcher, ready };
      this.queues.set(shard, q);
    }
    return q;
  }

  submit(shard: string, sub: Submission, issuers: Issuer[], deadlineMs: number): Promise<Sequenced> {
    return this.forShard(shard).batcher.submit(sub, issuers, deadlineMs);
  }

  depth(shard: string): number {
    return this.queues.get(shard)?.batcher.depth ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.queues.values()];
    this.queues.clear();
    for (const q of all) q.batcher.close();
    // Close everything even when one close fails (docs/STYLE.md: close runs every cleanup).
    await Promise.allSettled(all.flatMap((q) => [q.events.close(), q.queue.close()]));
  }
}

export interface BullConsumerOptions {
  redisUrl: string;
  /** The CTFE's queue key (or keys, during a rotation); a message that authenticates under none is refused. */
  queueKey: Uint8Array | readonly Uint8Array[];
  prefix?: string;
  /** Jobs processed at once; they pool into the same sequencer batches. @defaultValue 64 */
  concurrency?: number;
  log?: Logger;
  /** Called for every refused message (metrics, logs); nothing of it was sequenced. */
  onRefused?: (info: { shard: string; err: QueueAuthError }) => void;
}

/** The sequencer's side. */
export class BullSubmissionConsumer implements SubmissionConsumer {
  private readonly workers: Worker[] = [];
  private readonly connection: ConnectionOptions;
  private readonly auth: QueueAuth;

  constructor(private readonly opts: BullConsumerOptions) {
    this.auth = queueAuth(opts.queueKey);
    this.connection = redisConnection(opts.redisUrl);
  }

  async consume(shard: string, handle: BatchHandler): Promise<void> {
    const worker = new Worker(
      queueName(shard),
      async (job: Job<unknown>) => {
        // Nothing of a message is used before it authenticates. A refused one fails its job:
        // its waiters (if a CTFE is waiting at all) get a 503, and no entry or SCT exists.
        let opened: { payload: unknown; mac: string };
        try {
          opened = this.auth.open(shard, job.data, Date.now());
        } catch (err) {
          if (err instanceof QueueAuthError) this.opts.onRefused?.({ shard, err });
          throw err;
        }
        const { subs, issuers } = decodeBatch(opened.payload as WireBatch);
        let results: WireResult[];
        try {
          results = (await handle(subs, issuers)).map(encodeResult);
        } catch (err) {
          // A per-batch failure is an answer, not a BullMQ failure: the CTFE turns it into
          // each waiter's status (503 for our trouble, 4xx for theirs).
          // A non-CtError is ours (a database error naming tables): logged, not forwarded.
          if (!(err instanceof CtError)) this.opts.log?.warn('sequencer: batch failed', { reason: 'sequencer_error', err: (err as Error).message });
          const e = err instanceof CtError ? err : new CtError(503, 'sequencer_error', 'the sequencer failed this batch; retry shortly', { retryAfter: 1 });
          results = subs.map(() => ({ ok: false as const, status: e.status, reason: e.reason, msg: e.message, ra: e.retryAfter }));
        }
        return this.auth.sealResult(opened.mac, results);
      },
      {
        connection: this.connection,
        prefix: this.opts.prefix ?? 'ctlog',
        concurrency: this.opts.concurrency ?? 64,
        // A killed sequencer's jobs are picked up again after this; dedup makes the retry safe.
        stalledInterval: 5000,
        lockDuration: 10000,
      },
    );
    // Connection trouble is retried by ioredis; jobs in flight stall and are retried.
    logErrors(worker, 'worker', this.opts.log);
    this.workers.push(worker);
    await worker.waitUntilReady();
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.allSettled(ws.map((w) => w.close()));
  }
}
