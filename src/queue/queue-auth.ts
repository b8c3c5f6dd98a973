// Redis is not trusted with meaning (DESIGN.md "Trust boundary"): whoever can write to it
// could otherwise hand the sequencer an entry no CTFE validated and get it signed. Every
// message between the CTFE and the sequencer therefore carries an HMAC-SHA256 under a key
// that both processes load from a file or the environment and Redis never sees.
//
// Why a MAC and not re-validation in the sequencer: bench/trust.ts measures both per entry.
// Re-deriving the entry from the DER and re-validating its chain costs a signature
// verification per entry (35–110 µs, the largest CPU item of the whole write path);
// authenticating the CTFE's verdict costs one HMAC over the message (~1–2 µs per entry).
//
// A request binds the shard (a batch for one shard cannot be replayed into another shard's
// queue, whose window and roots differ) and its creation time (an old batch captured from
// Redis is refused after maxAgeMs). A result binds the request's MAC, so results cannot be
// moved from one job to another: a CTFE hands a CA only an SCT the sequencer meant for it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CtError } from '../util/errors.js';

/** The smallest key accepted: 256 bits, the HMAC-SHA256 block of security. */
export const QUEUE_KEY_MIN_BYTES = 32;

/** A request as it sits in Redis: the batch as a JSON string, and its MAC. */
export interface SealedRequest {
  v: 1;
  /** Creation time (ms since epoch, CTFE clock). */
  at: number;
  /** The payload, JSON; authenticated byte for byte before it is parsed. */
  p: string;
  /** base64 HMAC-SHA256 over the shard, at and p. */
  mac: string;
}

/** The sequencer's answer as it sits in Redis. */
export interface SealedResult {
  p: string;
  mac: string;
}

/** A queue message failed authentication: it is refused, never sequenced. */
export class QueueAuthError extends CtError {
  override name = 'QueueAuthError';
  constructor(message: string) {
    // 503, not 4xx: a CA whose submission meets this did nothing wrong; the log's own
    // queue carried something it could not vouch for (or the two processes' keys differ).
    super(503, 'unauthenticated_message', message, { retryAfter: 5 });
  }
}

export interface QueueAuthOptions {
  /** How old a request may be when the sequencer opens it. @defaultValue 600000 (10 min) */
  maxAgeMs?: number;
  /** How far in the future a request's time may be (clock skew between hosts). @defaultValue 60000 */
  maxSkewMs?: number;
}

export class QueueAuth {
  private readonly key: Buffer;
  private readonly maxAgeMs: number;
  private readonly maxSkewMs: number;

  constructor(key: Uint8Array, opts: QueueAuthOptions = {}) {
    if (!(key instanceof Uint8Array) || key.length < QUEUE_KEY_MIN_BYTES) {
      throw new Error(`the queue key must be at least ${QUEUE_KEY_MIN_BYTES} bytes (got ${key?.length ?? 0})`);
    }
    this.key = Buffer.from(key);
    this.maxAgeMs = opts.maxAgeMs ?? 600_000;
    this.maxSkewMs = opts.maxSkewMs ?? 60_000;
  }

  private mac(...parts: string[]): Buffer {
    const h = createHmac('sha256', this.key);
    // NUL separators: shard names and decimal times contain none, so the split is unambiguous
    // (the payload is last and may contain anything).
    for (const p of parts) h.update(p).update('\0');
    return h.digest();
  }

  /** Seals a request payload for `shard` at time `now`. */
  seal(shard: string, payload: unknown, now: number): SealedRequest {
    const p = JSON.stringify(payload);
    const at = Math.floor(now);
    return { v: 1, at, p, mac: this.mac('ctlog-queue-request-v1', shard, String(at), p).toString('base64') };
  }

  /**
   * Opens a request taken from the queue of `shard`: checks the MAC, then the age, then
   * parses. Throws QueueAuthError on anything else; the caller must then sequence nothing.
   */
  open(shard: string, msg: unknown, now: number): { payload: unknown; mac: string } {
    const m = msg as Partial<SealedRequest> | null;
    if (!m || typeof m !== 'object' || m.v !== 1 || typeof m.p !== 'string' || typeof m.mac !== 'string' || typeof m.at !== 'number' || !Number.isSafeInteger(m.at)) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} is not a sealed request; refused`);
    }
    if (!this.check(m.mac, this.mac('ctlog-queue-request-v1', shard, String(m.at), m.p))) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} failed authentication (wrong queue key, or not written by a CTFE); refused`);
    }
    if (m.at < now - this.maxAgeMs || m.at > now + this.maxSkewMs) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} is ${Math.round((now - m.at) / 1000)} s old, outside [-${this.maxSkewMs / 1000}, ${this.maxAgeMs / 1000}] s; refused`);
    }
    return { payload: JSON.parse(m.p) as unknown, mac: m.mac };
  }

  /** Seals the sequencer's answer to the request whose MAC is `requestMac`. */
  sealResult(requestMac: string, payload: unknown): SealedResult {
    const p = JSON.stringify(payload);
    return { p, mac: this.mac('ctlog-queue-result-v1', requestMac, p).toString('base64') };
  }

  /** Opens the answer to the request whose MAC is `requestMac`; throws QueueAuthError. */
  openResult(requestMac: string, msg: unknown): unknown {
    const m = msg as Partial<SealedResult> | null;
    if (!m || typeof m !== 'object' || typeof m.p !== 'string' || typeof m.mac !== 'string' || !this.check(m.mac, this.mac('ctlog-queue-result-v1', requestMac, m.p))) {
      throw new QueueAuthError('the sequencer\'s answer in the queue failed authentication; refused');
    }
    return JSON.parse(m.p) as unknown;
  }

  private check(macB64: string, want: Buffer): boolean {
    const got = Buffer.from(macB64, 'base64');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
