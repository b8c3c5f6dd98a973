// The embedded default's queue: the CTFE and the sequencer share a process, so a batch is
// handed straight to the sequencer's handler. Same contract as the BullMQ queue.
import { unavailable } from '../util/errors.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';
import type { BatchHandler, SubmissionConsumer, SubmissionQueue } from './queue.js';
import type { Issuer, Sequenced, Submission } from './submission.js';

export class InProcessQueue implements SubmissionQueue, SubmissionConsumer {
  private readonly handlers = new Map<string, BatchHandler>();
  private readonly batchers = new Map<string, MicroBatcher>();

  constructor(private readonly opts: MicroBatcherOptions = {}) {}

  async consume(shard: string, handle: BatchHandler): Promise<void> {
    this.handlers.set(shard, handle);
  }

  submit(shard: string, sub: Submission, issuers: Issuer[], deadlineMs: number): Promise<Sequenced> {
    let b = this.batchers.get(shard);
    if (!b) {
      b = new MicroBatcher((subs, iss) => {
        const h = this.handlers.get(shard);
        if (!h) return Promise.reject(unavailable(503, 'no_sequencer', `no sequencer is running for shard ${shard}`, 5));
        return h(subs, iss);
      }, this.opts);
      this.batchers.set(shard, b);
    }
    return b.submit(sub, issuers, deadlineMs);
  }

  depth(shard: string): number {
    return this.batchers.get(shard)?.depth ?? 0;
  }

  async close(): Promise<void> {
    for (const b of this.batchers.values()) b.close();
    this.handlers.clear();
  }
}
