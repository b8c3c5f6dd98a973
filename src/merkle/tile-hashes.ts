// Interior nodes of one tile. A tile stores only its bottom row (tree level 8L); the seven
// levels above it inside the tile (8L+1 .. 8L+7) and the tile root (8L+8) are recomputed
// from that row on demand, as tlog-tiles intends. Up to 255 hashes per tile: worth memoising.
import { HASH_SIZE, nodeHash } from './hash.js';
import { TILE_HEIGHT, TILE_WIDTH } from './tile.js';

/** Memo of computed interior nodes of one tile, slot per (sublevel s >= 1, index j). */
export type TileMemo = Array<Uint8Array | undefined>;

// Sublevel s (1..8) has 256 / 2^s nodes; slots are laid out level after level.
function slot(s: number, j: number): number {
  return TILE_WIDTH - 2 ** (TILE_HEIGHT + 1 - s) + j;
}

/**
 * The hash of the perfect subtree of 2^s entries starting at entry j * 2^s of `tile`
 * (s = 0 is the entry itself, a view into `tile`). The caller checks that the tile is wide
 * enough. `memo` (optional) holds previously computed nodes of this same tile content.
 */
export function tileSubtree(tile: Uint8Array, s: number, j: number, memo?: TileMemo): Uint8Array {
  if (s === 0) return tile.subarray(j * HASH_SIZE, (j + 1) * HASH_SIZE);
  if (memo) {
    const k = slot(s, j);
    const got = memo[k];
    if (got) return got;
    const h = nodeHash(tileSubtree(tile, s - 1, 2 * j, memo), tileSubtree(tile, s - 1, 2 * j + 1, memo));
    memo[k] = h;
    return h;
  }
  return nodeHash(tileSubtree(tile, s - 1, 2 * j), tileSubtree(tile, s - 1, 2 * j + 1));
}

/**
 * Memoises the interior nodes of tiles across proofs, keyed by the identity of the tile
 * buffer a TileSource returned (held weakly: entries go when the caller drops the tile).
 *
 * Contract: a tile buffer handed to code using this cache is never mutated afterwards
 * (storage layers return fresh buffers; keep it that way). Partial tiles are fine: a node
 * that fits in a tile's width never changes as the tile grows.
 */
export class TileHashCache {
  readonly #memos = new WeakMap<Uint8Array, TileMemo>();
  readonly #folds = new Map<string, Uint8Array>();

  /**
   * MTH(D[begin:end]) for a range that is not one perfect subtree (a proof element on the
   * right edge of a tree), computed by `compute` once: every proof at a tree size shares
   * these, and they never change. Bounded: past 4,096 ranges the memo starts over.
   */
  fold(begin: number, end: number, compute: () => Uint8Array): Uint8Array {
    const key = `${begin}-${end}`;
    let h = this.#folds.get(key);
    if (!h) {
      h = compute();
      if (this.#folds.size >= 4096) this.#folds.clear();
      this.#folds.set(key, h);
    }
    return h;
  }

  /** The memo for this tile buffer, created empty on first use. */
  memoFor(tile: Uint8Array): TileMemo {
    let m = this.#memos.get(tile);
    if (!m) {
      m = [];
      this.#memos.set(tile, m);
    }
    return m;
  }
}
