// A minimal DER reader and writer: just enough of X.690 to walk a certificate without
// building an object tree. Every read is bounds-checked against the enclosing element, so
// a hostile length can never reach outside the bytes it claims to describe.

/** Thrown for malformed DER; callers turn it into a 400 naming the certificate. */
export class DerError extends Error {
  override name = 'DerError';
}

/** One TLV element, as offsets into the buffer it was read from. */
export interface Tlv {
  /** The identifier octet (single-byte tags only: class, constructed bit, number < 31). */
  tag: number;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  valueStart: number;
  /** Offset just past the last content octet. */
  end: number;
}

// Universal tags, constructed bit included where X.509 uses the constructed form.
export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_NULL = 0x05;
export const TAG_OID = 0x06;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;

/**
 * Reads the TLV at `offset`, which must end at or before `limit`. Rejects high tag
 * numbers, indefinite lengths (BER only), non-minimal lengths (X.690 §10.1) and any
 * element that runs past `limit`.
 */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset >= limit) throw new DerError(`truncated: expected an element at offset ${offset}`);
  const tag = buf[offset]!;
  if (tag % 32 === 31) throw new DerError(`unsupported high tag number at offset ${offset}`);
  if (offset + 1 >= limit) throw new DerError(`truncated: no length at offset ${offset + 1}`);
  const first = buf[offset + 1]!;
  let len: number;
  let valueStart: number;
  if (first < 0x80) {
    len = first;
    valueStart = offset + 2;
  } else {
    const n = first - 0x80;
    if (n === 0) throw new DerError(`indefinite length at offset ${offset + 1}`);
    if (n > 4) throw new DerError(`length of ${n} octets at offset ${offset + 1} is too long`);
    if (offset + 2 + n > limit) throw new DerError(`truncated length at offset ${offset + 1}`);
    if (buf[offset + 2] === 0) throw new DerError(`non-minimal length at offset ${offset + 1}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (len < 0x80) throw new DerError(`non-minimal length at offset ${offset + 1}`);
    valueStart = offset + 2 + n;
  }
  const end = valueStart + len;
  if (end > limit) throw new DerError(`truncated: element at offset ${offset} needs ${len} bytes, ${limit - valueStart} left`);
  return { tag, start: offset, valueStart, end };
}

/** readTlv that also requires the given tag; `what` names the field in the error. */
export function expectTlv(buf: Uint8Array, offset: number, limit: number, tag: number, what: string): Tlv {
  if (offset < limit && buf[offset] !== tag) {
    throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, got 0x${buf[offset]!.toString(16)} at offset ${offset}`);
  }
  return readTlv(buf, offset, limit);
}

/** The content octets of a TLV, as a view (no copy). */
export function valueOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.valueStart, t.end);
}

/** The whole TLV (identifier, length and content), as a view (no copy). */
export function tlvOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

/**
 * Decodes OBJECT IDENTIFIER content octets to dotted form (X.690 §8.19). Arcs beyond
 * 2^53 (UUID arcs under 2.25) are decoded with bigint so they stay exact.
 */
export function decodeOid(v: Uint8Array): string {
  // Certificates repeat a few dozen OIDs; memoising the short ones skips the arithmetic.
  if (v.length <= 16) {
    const k = String.fromCharCode.apply(null, v as unknown as number[]);
    let s = oidMemo.get(k);
    if (s === undefined) {
      s = decodeOidSlow(v);
      if (oidMemo.size < 4096) oidMemo.set(k, s);
    }
    return s;
  }
  return decodeOidSlow(v);
}

const oidMemo = new Map<string, string>();

function decodeOidSlow(v: Uint8Array): string {
  if (v.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  if (v[v.length - 1]! >= 0x80) throw new DerError('truncated OBJECT IDENTIFIER');
  const arcs: Array<number | bigint> = [];
  let acc: number | bigint = 0;
  let fresh = true;
  for (let i = 0; i < v.length; i++) {
    const b = v[i]!;
    if (fresh && b === 0x80) throw new DerError('non-minimal OBJECT IDENTIFIER arc');
    fresh = false;
    const low = b % 128;
    if (typeof acc === 'number') {
      acc = acc * 128 + low;
      if (acc > Number.MAX_SAFE_INTEGER / 128) acc = BigInt(acc);
    } else {
      acc = acc * 128n + BigInt(low);
    }
    if (b < 0x80) {
      arcs.push(acc);
      acc = 0;
      fresh = true;
    }
  }
  // X.690 §8.19.4: the first subidentifier packs the first two arcs as 40*X + Y.
  const first = arcs[0]!;
  const head =
    typeof first === 'bigint'
      ? `2.${first - 80n}`
      : first < 40 ? `0.${first}` : first < 80 ? `1.${first - 40}` : `2.${first - 80}`;
  return arcs.length === 1 ? head : `${head}.${arcs.slice(1).join('.')}`;
}

/** Encodes a DER length (definite, minimal). */
export function encodeLength(len: number): Uint8Array {
  if (len < 0x80) return Uint8Array.of(len);
  const bytes: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 + bytes.length, ...bytes);
}

/** Encodes a TLV whose content is the concatenation of `parts`. */
export function encodeTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = encodeLength(len);
  const out = new Uint8Array(1 + head.length + len);
  out[0] = tag;
  out.set(head, 1);
  let o = 1 + head.length;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
