// The queue between the CTFE and the sequencer: one interface, two implementations
// (BullMQ on Redis for production, in-process for the embedded default).
//
// Contract: submit() resolves only with the sequencer's answer, which the sequencer sends
// only after the entry is durably committed (docs/DESIGN.md invariant 1). It rejects with a
// CtError: 503 when the deadline passes (the entry may still be sequenced later; a retry
// finds it by dedup), 429 when the queue is full, or the sequencer's per-batch error.
// The queue is not on the durability path: losing it loses only submissions that never
// got an SCT.
import type { Issuer, Sequenced, Submission } from './submission.js';

/** The CTFE's side. */
export interface SubmissionQueue {
  submit(shard: string, sub: Submission, issuers: Issuer[], deadlineMs: number): Promise<Sequenced>;
  /** Submissions waiting or in flight, for back-pressure and metrics. */
  depth(shard: string): number;
  close(): Promise<void>;
}

/**
 * The sequencer's side: handle() is called with batches of submissions for a shard and
 * must resolve with one result per submission, in order, after committing them.
 */
export type BatchHandler = (subs: Submission[], issuers: Issuer[]) => Promise<Sequenced[]>;

export interface SubmissionConsumer {
  consume(shard: string, handle: BatchHandler): Promise<void>;
  close(): Promise<void>;
}
