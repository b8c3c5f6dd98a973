// What travels from the CTFE to the sequencer, and what comes back: a validated submission
// in, the data the CTFE needs to answer with an SCT out. Both cross Redis as JSON, so bytes
// travel as base64; the codecs are here, next to the types, and nowhere else.
import type { SignedEntry } from '../tls/index.js';
import { b64, hex } from '../util/bytes.js';

/** A chain that passed the CTFE's checks, ready to be sequenced. */
export interface Submission {
  /** Dedup identity (32 bytes): one identity is sequenced once per shard. */
  identity: Uint8Array;
  /** What the leaf commits to: the certificate, or the precertificate's issuer key hash and logged TBS. */
  entry: SignedEntry;
  /** Certificate DER, or the precertificate DER as submitted (kept for extra_data and data tiles). */
  cert: Uint8Array;
  /** SHA-256 fingerprints of the chain after the leaf, ending at the root. */
  chain: Uint8Array[];
}

/** A chain certificate, stored once by fingerprint. */
export interface Issuer {
  fingerprint: Uint8Array;
  der: Uint8Array;
}

/** The sequencer's answer for one submission: enough to build its SCT (RFC 6962 §3.2). */
export interface Sequenced {
  /**
   * The identity of the submission this answer is for. The CTFE checks it against its own
   * submission before answering: an answer meant for another submission (a queue that lost
   * and reused a job, a bug) must never reach a client as an SCT.
   */
  identity: Uint8Array;
  idx: number;
  timestamp: number;
  /** CtExtensions of the logged leaf (static-ct-api leaf_index). */
  extensions: Uint8Array;
  /** Encoded DigitallySigned over the SCT input. */
  signature: Uint8Array;
  /** True when the identity was already logged and this is the stored entry's SCT. */
  duplicate: boolean;
  /**
   * SHA-256 of the SCT's signature input (RFC 6962 §3.2: version, type, timestamp, entry,
   * extensions) exactly as the sequencer had it signed. The CTFE recomputes it from its own
   * submission's entry and this answer's timestamp and extensions: equal digests bind the
   * signature to this submission (docs/DESIGN.md "Every answer belongs to its submission").
   */
  signedDigest: Uint8Array;
  /**
   * Set by the CTFE's MicroBatcher: one object shared by every answer of one queue message,
   * so that checks made once per message can be found by each answer. Never on the wire.
   */
  batch?: object;
}

export function identityKey(identity: Uint8Array): string {
  return hex(identity);
}

/**
 * A plain Uint8Array view of the decoded bytes, not a copy: a copy per field was one more
 * allocation per certificate, TBS, chain fingerprint and identity on the sequencer's path.
 */
const fromB64 = (s: string): Uint8Array => {
  const b = Buffer.from(s, 'base64');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

export interface WireBatch {
  s: Array<{ i: string; t: 0 | 1; c: string; ch: string[]; k?: string; tbs?: string }>;
  iss: Array<{ f: string; d: string }>;
}

export function encodeBatch(subs: Submission[], issuers: Issuer[]): WireBatch {
  return {
    s: subs.map((x) =>
      x.entry.type === 'x509'
        ? { i: b64(x.identity), t: 0, c: b64(x.cert), ch: x.chain.map(b64) }
        : { i: b64(x.identity), t: 1, c: b64(x.cert), ch: x.chain.map(b64), k: b64(x.entry.issuerKeyHash), tbs: b64(x.entry.tbsCertificate) },
    ),
    iss: issuers.map((i) => ({ f: b64(i.fingerprint), d: b64(i.der) })),
  };
}

export function decodeBatch(w: WireBatch): { subs: Submission[]; issuers: Issuer[] } {
  return {
    subs: w.s.map((x) => {
      const cert = fromB64(x.c);
      const entry: SignedEntry =
        x.t === 0 ? { type: 'x509', certificate: cert } : { type: 'precert', issuerKeyHash: fromB64(x.k ?? ''), tbsCertificate: fromB64(x.tbs ?? '') };
      return { identity: fromB64(x.i), entry, cert, chain: x.ch.map(fromB64) };
    }),
    issuers: w.iss.map((i) => ({ fingerprint: fromB64(i.f), der: fromB64(i.d) })),
  };
}

export type WireResult =
  | { ok: true; i: string; x: number; ts: number; e: string; sig: string; dup: boolean; d: string }
  /** A per-batch failure; ra is the Retry-After seconds of a 429/503. */
  | { ok: false; status: number; reason: string; msg: string; ra?: number };

export function encodeResult(r: Sequenced): WireResult {
  return { ok: true, i: b64(r.identity), x: r.idx, ts: r.timestamp, e: b64(r.extensions), sig: b64(r.signature), dup: r.duplicate, d: b64(r.signedDigest) };
}

export function decodeResult(w: Extract<WireResult, { ok: true }>): Sequenced {
  return { identity: fromB64(w.i ?? ''), idx: w.x, timestamp: w.ts, extensions: fromB64(w.e), signature: fromB64(w.sig), duplicate: w.dup, signedDigest: fromB64(w.d ?? '') };
}
