// RFC 6962 §2.1 hashing: the leaf and interior-node hashes of a Merkle Tree Hash (MTH),
// with the domain-separation prefixes that keep a leaf from posing as a node.
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

function sha256(data: Uint8Array): Uint8Array {
  const b = hash('sha256', data, 'buffer');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** MTH({}) = SHA-256() (RFC 6962 §2.1): the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** MTH({d(0)}) = SHA-256(0x00 || d(0)) (RFC 6962 §2.1). Returns a fresh 32-byte array. */
export function leafHash(leaf: Uint8Array): Uint8Array {
  const buf = Buffer.allocUnsafe(1 + leaf.byteLength);
  buf[0] = 0x00; /* leaf prefix */
  buf.set(leaf, 1);
  return sha256(buf);
}

/**
 * SHA-256(0x01 || left || right) (RFC 6962 §2.1): the hash of an interior node. Children are
 * 32 bytes in a tree, but any lengths hash as their concatenation; the entry points that
 * accept caller hashes check their length.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (left.byteLength === HASH_SIZE && right.byteLength === HASH_SIZE) {
    // The hot path reuses one input buffer: hashing is synchronous, so nothing can interleave.
    scratch[0] = 0x01; /* node prefix */
    scratch.set(left, 1);
    scratch.set(right, 1 + HASH_SIZE);
    return sha256(scratch);
  }
  const buf = Buffer.allocUnsafe(1 + left.byteLength + right.byteLength);
  buf[0] = 0x01; /* node prefix */
  buf.set(left, 1);
  buf.set(right, 1 + left.byteLength);
  return sha256(buf);
}

const scratch = Buffer.alloc(1 + 2 * HASH_SIZE);
