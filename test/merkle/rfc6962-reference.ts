// A naive RFC 6962 §2.1 reference, written literally from the recursive definitions (MTH,
// PATH, PROOF/SUBPROOF) and hashed with @noble/hashes, independent of src/merkle. Leaves are
// given as their leaf hashes; MTH of a range is memoised so whole test trees stay cheap.
import { sha256 } from '@noble/hashes/sha2.js';

export function refLeafHash(leaf: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0x00, ...leaf));
}

export function refNodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  const b = new Uint8Array(65);
  b[0] = 0x01;
  b.set(l, 1);
  b.set(r, 33);
  return sha256(b);
}

/** k: the largest power of two smaller than n (n > 1). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export class RefTree {
  readonly #memo = new Map<string, Uint8Array>();
  constructor(readonly leafHashes: Uint8Array[]) {}

  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Uint8Array {
    const n = hi - lo;
    if (n === 0) return sha256(new Uint8Array(0));
    if (n === 1) return this.leafHashes[lo]!;
    const key = `${lo}:${hi}`;
    const got = this.#memo.get(key);
    if (got) return got;
    const k = split(n);
    const h = refNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
    this.#memo.set(key, h);
    return h;
  }

  /** PATH(m, D[lo:hi]), m relative to lo. */
  path(m: number, lo: number, hi: number): Uint8Array[] {
    const n = hi - lo;
    if (n === 1) return [];
    const k = split(n);
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** PROOF(m, D[0:n]). */
  proof(m: number, n: number): Uint8Array[] {
    return this.subproof(m, 0, n, true);
  }

  /** SUBPROOF(m, D[lo:hi], b), m relative to lo. */
  subproof(m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    const k = split(n);
    if (m <= k) return [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }
}
