/**
 * PKCS#11 tokens (CKM_ECDSA) return an ECDSA signature as raw r‖s, each integer big-endian
 * and left-padded to the size of the curve order; RFC 6962 §2.1.4 wants the DER
 * Ecdsa-Sig-Value of RFC 3279 §2.2.3: SEQUENCE { r INTEGER, s INTEGER }. A DER INTEGER is
 * minimal (no leading zero byte unless the next byte has its high bit set) and signed (a
 * value with its high bit set gets a leading zero so it stays positive).
 */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.byteLength === 0 || raw.byteLength % 2 !== 0) throw new Error(`ECDSA signature: raw r||s must have an even, non-zero length (got ${raw.byteLength} bytes)`);
  const half = raw.byteLength / 2;
  const r = derInteger(raw.subarray(0, half));
  const s = derInteger(raw.subarray(half));
  const body = new Uint8Array(r.byteLength + s.byteLength);
  body.set(r, 0);
  body.set(s, r.byteLength);
  return concat([0x30], derLength(body.byteLength), body);
}

/** The inverse, for tests and for tokens' answers checked in both forms: DER → r‖s of `size` bytes each. */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  let p = 0;
  const byte = (): number => {
    if (p >= der.byteLength) throw new Error('ECDSA signature: DER truncated');
    return der[p++]!;
  };
  const len = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    if (first !== 0x81) throw new Error('ECDSA signature: DER length too long');
    const n = byte();
    if (n < 0x80) throw new Error('ECDSA signature: DER length not minimal');
    return n;
  };
  if (byte() !== 0x30) throw new Error('ECDSA signature: DER not a SEQUENCE');
  if (len() !== der.byteLength - p) throw new Error('ECDSA signature: DER SEQUENCE length does not match');
  const out = new Uint8Array(2 * size);
  for (const at of [0, size]) {
    if (byte() !== 0x02) throw new Error('ECDSA signature: DER element not an INTEGER');
    const n = len();
    let v = der.subarray(p, p + n);
    if (v.byteLength !== n || n === 0) throw new Error('ECDSA signature: DER INTEGER truncated');
    p += n;
    if (v[0]! & 0x80) throw new Error('ECDSA signature: DER INTEGER negative');
    if (n > 1 && v[0] === 0 && !(v[1]! & 0x80)) throw new Error('ECDSA signature: DER INTEGER not minimal');
    if (v[0] === 0 && n > 1) v = v.subarray(1);
    if (v.byteLength > size) throw new Error(`ECDSA signature: INTEGER longer than ${size} bytes`);
    out.set(v, at + size - v.byteLength);
  }
  if (p !== der.byteLength) throw new Error('ECDSA signature: DER has trailing bytes');
  return out;
}

function derInteger(unsigned: Uint8Array): Uint8Array {
  let i = 0;
  while (i < unsigned.byteLength - 1 && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  const pad = v[0]! & 0x80 ? [0] : [];
  return concat([0x02], derLength(v.byteLength + pad.length), pad, v);
}

/** Short form below 128, else long form (P-384 and P-521 sequences reach it). */
function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function concat(...parts: Array<ArrayLike<number>>): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
