// Perfect subtrees named by (level, index), and the RFC 6962 range arithmetic on them.
// Sizes and indexes are JS numbers that may pass 2^32: only Math.floor, multiplication and
// division by powers of two are used, which are exact for safe integers.

/** The perfect subtree covering leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeId {
  level: number;
  index: number;
}

/** Map key of a node id, e.g. "3/12". */
export function nodeKey(n: NodeId): string {
  return `${n.level}/${n.index}`;
}

/** The largest power of two strictly less than n (n >= 2): the split point k of RFC 6962 §2.1. */
export function splitPoint(n: number): number {
  let k = 2 ** Math.floor(Math.log2(n - 1));
  // Math.log2 may round across a power of two for large n; correct it exactly.
  while (k >= n) k /= 2;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The perfect subtrees whose fold is MTH(D[begin:end]), left to right: one per set bit of
 * end - begin, largest first. `begin` must be a multiple of the largest of them, which holds
 * for every range RFC 6962's recursive split produces.
 */
export function rangeNodes(begin: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let at = begin;
  let rest = end - begin;
  while (rest > 0) {
    const level = Math.floor(Math.log2(rest));
    let size = 2 ** level;
    let lv = level;
    if (size > rest) { size /= 2; lv -= 1; }
    else if (size * 2 <= rest) { size *= 2; lv += 1; }
    out.push({ level: lv, index: at / size });
    at += size;
    rest -= size;
  }
  return out;
}
