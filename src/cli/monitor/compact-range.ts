// The right edge of a Merkle tree as the roots of its perfect subtrees (a compact range from
// 0, RFC 9162 §2.1.1's MTH folded incrementally): enough to keep appending leaves and to
// compute the root at every size, in O(log n) memory. The monitor keeps one per log so that
// entries fetched with get-entries can be checked against a signed root, and stores it in
// its state file so a restart continues where it stopped instead of re-reading the log.
import { EMPTY_ROOT, nodeHash } from '../../merkle/index.js';

export class CompactRange {
  /** Subtree roots, largest (leftmost) first; their sizes are the binary digits of `size`. */
  private constructor(
    public size: number,
    private readonly nodes: Uint8Array[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  static fromJson(j: { size: number; nodes: string[] }): CompactRange {
    const nodes = j.nodes.map((h) => new Uint8Array(Buffer.from(h, 'hex')));
    let bits = 0;
    for (let s = j.size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
    if (bits !== nodes.length || nodes.some((n) => n.byteLength !== 32)) throw new Error(`compact range of size ${j.size} needs ${bits} hashes, got ${nodes.length}`);
    return new CompactRange(j.size, nodes);
  }

  toJson(): { size: number; nodes: string[] } {
    return { size: this.size, nodes: this.nodes.map((n) => Buffer.from(n).toString('hex')) };
  }

  /** Appends one leaf hash: merges equal-sized subtrees, as a binary counter carries. */
  append(leafHash: Uint8Array): void {
    let h = leafHash;
    for (let s = this.size; s % 2 === 1; s = Math.floor(s / 2)) h = nodeHash(this.nodes.pop()!, h);
    this.nodes.push(h);
    this.size++;
  }

  /** MTH of the leaves appended so far. */
  root(): Uint8Array {
    if (this.nodes.length === 0) return EMPTY_ROOT;
    let h = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) h = nodeHash(this.nodes[i]!, h);
    return h;
  }
}
