// Redis is not trusted with meaning (docs/OPERATIONS.md "Trust boundary"): whoever can write to it
// could otherwise hand the sequencer an entry no CTFE validated and get it signed. Every
// message between the CTFE and the sequencer therefore carries an HMAC-SHA256 under a key
// that both processes load from a file or the environment and Redis never sees.
//
// Why a MAC and not re-validation in the sequencer: bench/trust.ts measures both per entry,
// side by side. Re-deriving the entry from the DER is cheap, but it proves nothing unless
// the chain is re-validated too, and that costs at least one signature verification per
// entry (the largest CPU item of the whole write path, ~120-250 µs per entry in that bench
// on the shared box); the MAC costs a SHA-256 pass over the message on each side (~15-30 µs
// per entry for both sides together, in the same runs). The payload is MACed in place, not
// re-serialised: a second JSON encoding would cost more than the MAC itself.
//
// A request binds the shard (a batch for one shard cannot be replayed into another shard's
// queue, whose window and roots differ) and its creation time (an old batch captured from
// Redis is refused after maxAgeMs). A result binds the request's MAC, so results cannot be
// moved from one job to another: a CTFE hands a CA only an SCT the sequencer meant for it.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CtError } from '../util/errors.js';

/** The smallest key accepted: 256 bits, the HMAC-SHA256 block of security. */
export const QUEUE_KEY_MIN_BYTES = 32;

/** A request as it sits in Redis: the batch as it is, and its MAC. */
export interface SealedRequest {
  v: 1;
  /** Creation time (ms since epoch, CTFE clock). */
  at: number;
  /** The payload (plain JSON data); authenticated field by field before any of it is used. */
  b: unknown;
  /** base64 HMAC-SHA256 over the shard, at and b. */
  mac: string;
}

/** The sequencer's answer as it sits in Redis. */
export interface SealedResult {
  b: unknown;
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
  /** keys[0] seals; a message sealed under any of them opens (key rotation, README). */
  private readonly keys: Buffer[];
  private readonly maxAgeMs: number;
  private readonly maxSkewMs: number;

  /** `keys`: one key, or several during a rotation: the first seals, any of them opens. */
  constructor(keys: Uint8Array | readonly Uint8Array[], opts: QueueAuthOptions = {}) {
    const list = keys instanceof Uint8Array ? [keys] : [...keys];
    if (list.length === 0) throw new Error('no queue key');
    for (const key of list) {
      if (!(key instanceof Uint8Array) || key.length < QUEUE_KEY_MIN_BYTES) {
        throw new Error(`the queue key must be at least ${QUEUE_KEY_MIN_BYTES} bytes (got ${key?.length ?? 0})`);
      }
    }
    this.keys = list.map((k) => Buffer.from(k));
    this.maxAgeMs = opts.maxAgeMs ?? 600_000;
    this.maxSkewMs = opts.maxSkewMs ?? 60_000;
  }

  /** The MAC input: labels, then the payload's canonical form (computed once per message). */
  private input(parts: string[], payload: unknown): string {
    // NUL separators: labels, shard names and decimal times contain none.
    return parts.map((p) => `${p}\0`).join('') + canonicalOf(payload);
  }

  private mac(key: Buffer, input: string): Buffer {
    return createHmac('sha256', key).update(input).digest();
  }

  /** Seals a request payload (plain JSON data) for `shard` at time `now`. */
  seal(shard: string, payload: unknown, now: number): SealedRequest {
    const at = Math.floor(now);
    return { v: 1, at, b: payload, mac: this.mac(this.keys[0]!, this.input(['ctlog-queue-request-v1', shard, String(at)], payload)).toString('base64') };
  }

  /**
   * Opens a request taken from the queue of `shard`: checks the MAC, then the age. Throws
   * QueueAuthError on anything else; the caller must then sequence nothing.
   */
  open(shard: string, msg: unknown, now: number): { payload: unknown; mac: string } {
    const m = msg as Partial<SealedRequest> | null;
    if (!m || typeof m !== 'object' || m.v !== 1 || typeof m.mac !== 'string' || typeof m.at !== 'number' || !Number.isSafeInteger(m.at)) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} is not a sealed request; refused`);
    }
    if (!this.check(m.mac, () => this.input(['ctlog-queue-request-v1', shard, String(m.at)], m.b))) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} failed authentication (wrong queue key, or not written by a CTFE); refused`);
    }
    if (m.at! < now - this.maxAgeMs || m.at! > now + this.maxSkewMs) {
      throw new QueueAuthError(`a message in the queue of shard ${shard} is ${Math.round((now - m.at!) / 1000)} s old, outside [-${this.maxSkewMs / 1000}, ${this.maxAgeMs / 1000}] s; refused`);
    }
    return { payload: m.b, mac: m.mac };
  }

  /** Seals the sequencer's answer to the request whose MAC is `requestMac`. */
  sealResult(requestMac: string, payload: unknown): SealedResult {
    return { b: payload, mac: this.mac(this.keys[0]!, this.input(['ctlog-queue-result-v1', requestMac], payload)).toString('base64') };
  }

  /** Opens the answer to the request whose MAC is `requestMac`; throws QueueAuthError. */
  openResult(requestMac: string, msg: unknown): unknown {
    const m = msg as Partial<SealedResult> | null;
    if (!m || typeof m !== 'object' || typeof m.mac !== 'string' || !this.check(m.mac, () => this.input(['ctlog-queue-result-v1', requestMac], m.b))) {
      throw new QueueAuthError("the sequencer's answer in the queue failed authentication; refused");
    }
    return m.b;
  }

  private check(macB64: string, input: () => string): boolean {
    const got = Buffer.from(macB64, 'base64');
    if (got.length !== 32) return false;
    let text: string;
    try {
      text = input();
    } catch {
      // A payload that is not plain JSON data (canonical() refuses it) does not authenticate.
      return false;
    }
    return this.keys.some((k) => timingSafeEqual(got, this.mac(k, text)));
  }
}

/**
 * Feeds a JSON value into the MAC in a canonical, unambiguous form (type tag, length-
 * prefixed strings, keys in their order), without serialising it: the payload travels as
 * the queue's own JSON, and a second JSON encoding of it would cost several times the MAC
 * (bench/trust.ts). What is fed is exactly what JSON carries (undefined properties are
 * skipped, as JSON.stringify skips them), so the CTFE's object and the sequencer's parsed
 * copy give the same MAC, and any change to the parsed copy gives another.
 */
function canonicalOf(v: unknown): string {
  // Joined once and hashed in one update: a native update call per field costs more than
  // the hashing itself.
  const parts: string[] = [];
  canonical(parts, v);
  return parts.join('');
}

function canonical(out: string[], v: unknown): void {
  if (typeof v === 'string') {
    out.push(`s${v.length}:`, v);
  } else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError('not JSON data: a non-finite number');
    out.push(`n${v};`);
  } else if (typeof v === 'boolean') {
    out.push(v ? 't' : 'f');
  } else if (v === null) {
    out.push('z');
  } else if (Array.isArray(v)) {
    out.push(`a${v.length}[`);
    for (const x of v) canonical(out, x === undefined ? null : x);
    out.push(']');
  } else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    out.push('o{');
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      out.push(`s${k.length}:`, k);
      canonical(out, x);
    }
    out.push('}');
  } else {
    throw new TypeError(`not JSON data: ${typeof v}`);
  }
}
