// Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency), which
// check RFC 6962 proofs too. Sizes may pass 2^32, so "right-shift" is Math.floor(x / 2)
// and "LSB(x)" is x % 2 === 1.
import { assertIndex, equal, hex } from '../util/bytes.js';
import { HASH_SIZE, nodeHash } from './hash.js';

function checkHash(h: Uint8Array, what: string): void {
  if (h.byteLength !== HASH_SIZE) throw new Error(`${what} must be ${HASH_SIZE} bytes, got ${h.byteLength}`);
}

function checkProof(proof: Uint8Array[]): void {
  proof.forEach((p, i) => checkHash(p, `proof[${i}]`));
}

/**
 * The root that an inclusion proof of `leafHash` at `index` implies for a tree of `size`
 * (RFC 9162 §2.1.3.2 steps 1-6). Throws if the proof has the wrong length for index/size.
 */
export function rootFromInclusion(leafHash: Uint8Array, index: number, size: number, proof: Uint8Array[]): Uint8Array {
  assertIndex(index, 'leaf index');
  assertIndex(size, 'tree size');
  if (index >= size) throw new Error(`leaf index ${index} is not below tree size ${size}`);
  checkHash(leafHash, 'leaf hash');
  checkProof(proof);
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) throw new Error(`inclusion proof too long: got ${proof.length} hashes for leaf ${index} of ${size}`);
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error(`inclusion proof too short: got ${proof.length} hashes for leaf ${index} of ${size}`);
  return r;
}

/** Throws unless `proof` proves `leafHash` is leaf `index` of the tree of `size` with `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: Uint8Array[], root: Uint8Array): void {
  checkHash(root, 'root');
  const got = rootFromInclusion(leafHash, index, size, proof);
  if (!equal(got, root)) throw new Error(`inclusion proof does not match the root: got ${hex(got)}, want ${hex(root)}`);
}

/**
 * Throws unless `proof` proves the tree of `size1` with `root1` is a prefix of the tree of
 * `size2` with `root2`. size1 == 0 is rejected, even against size2 == 0 (every tree extends
 * the empty one: a proof from it proves nothing). size1 == size2 needs an empty proof and
 * byte-equal roots; as in transparency-dev/merkle, their length is not checked then, since
 * comparing them is the whole verification.
 */
export function verifyConsistency(size1: number, size2: number, proof: Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  assertIndex(size1, 'first tree size');
  assertIndex(size2, 'second tree size');
  if (size2 < size1) throw new Error(`second tree size ${size2} is below first tree size ${size1}`);
  if (size1 === 0) throw new Error('consistency proof from the empty tree: nothing to verify');
  if (size1 === size2) {
    if (proof.length !== 0) throw new Error(`consistency proof between equal sizes must be empty, got ${proof.length} hashes`);
    if (!equal(root1, root2)) throw new Error(`roots of equal size ${size1} differ: got ${hex(root2)}, want ${hex(root1)}`);
    return;
  }
  checkHash(root1, 'first root');
  checkHash(root2, 'second root');
  checkProof(proof);
  if (proof.length === 0) throw new Error(`empty consistency proof from ${size1} to ${size2}`);

  // Step 1: if size1 is an exact power of two, root1 is the first node of the proof.
  const isPow2 = 2 ** Math.round(Math.log2(size1)) === size1;
  const path = isPow2 ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new Error(`consistency proof too long: got ${proof.length} hashes for ${size1} -> ${size2}`);
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error(`consistency proof too short: got ${proof.length} hashes for ${size1} -> ${size2}`);
  if (!equal(fr, root1)) throw new Error(`consistency proof does not match the first root: got ${hex(fr)}, want ${hex(root1)}`);
  if (!equal(sr, root2)) throw new Error(`consistency proof does not match the second root: got ${hex(sr)}, want ${hex(root2)}`);
}
