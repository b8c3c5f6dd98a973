// Proofs in three steps (docs/DESIGN.md "The tree"): plan the perfect nodes a proof needs
// (pure), let the caller fetch the tiles holding them in one read, then assemble (pure).
import { assertIndex } from '../util/bytes.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';
import { nodeKey, rangeNodes, splitPoint, type NodeId } from './node-id.js';
import { TILE_HEIGHT, TILE_WIDTH, tileKey } from './tile.js';
import { tileSubtree, type TileHashCache, type TileMemo } from './tile-hashes.js';

/**
 * Each element is one proof hash (or the root for planRoot): the perfect nodes to fold
 * right to left, h = n[last]; for i from last-1 down: h = nodeHash(n[i], h). An element with
 * no nodes is MTH of the empty tree.
 */
export interface ProofPlan {
  elements: NodeId[][];
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the audit path of leaf `index` in the tree of `size`, leaf first. */
export function planInclusion(index: number, size: number): ProofPlan {
  assertIndex(index, 'leaf index');
  assertIndex(size, 'tree size');
  if (index >= size) throw new RangeError(`leaf index ${index} is not below tree size ${size}`);
  const topDown: NodeId[][] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    // m < k: PATH(m, D[0:k]) : MTH(D[k:n]); otherwise PATH(m - k, D[k:n]) : MTH(D[0:k]).
    if (index < lo + k) {
      topDown.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      topDown.push(rangeNodes(lo, lo + k));
      lo += k;
    }
  }
  return { elements: topDown.reverse() };
}

/**
 * RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), m = size1, n = size2.
 * Empty when size1 == size2 or size1 == 0 (nothing to prove).
 */
export function planConsistency(size1: number, size2: number): ProofPlan {
  assertIndex(size1, 'first tree size');
  assertIndex(size2, 'second tree size');
  if (size1 > size2) throw new RangeError(`first tree size ${size1} is above second tree size ${size2}`);
  if (size1 === 0 || size1 === size2) return { elements: [] };
  const topDown: NodeId[][] = [];
  let lo = 0;
  let hi = size2;
  let whole = true; // SUBPROOF's b: D[lo:hi] still starts the original tree
  for (;;) {
    if (size1 === hi) {
      // SUBPROOF(m, D[m], b) = {} if b, else {MTH(D[m])}.
      if (!whole) topDown.push(rangeNodes(lo, hi));
      break;
    }
    const k = splitPoint(hi - lo);
    if (size1 <= lo + k) {
      // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      topDown.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      topDown.push(rangeNodes(lo, lo + k));
      lo += k;
      whole = false;
    }
  }
  return { elements: topDown.reverse() };
}

/** One element: MTH(D[0:size]) (RFC 6962 §2.1); no nodes for size 0. */
export function planRoot(size: number): ProofPlan {
  assertIndex(size, 'tree size');
  return { elements: [rangeNodes(0, size)] };
}

/** The distinct perfect nodes a plan needs, in first-use order. */
export function planNodes(plan: ProofPlan): NodeId[] {
  const seen = new Map<string, NodeId>();
  for (const el of plan.elements) for (const n of el) seen.set(nodeKey(n), n);
  return [...seen.values()];
}

interface TileCoord {
  tileLevel: number;
  tileIndex: number;
  /** Sublevel of the node inside its tile, 0..7. */
  s: number;
  /** Index of the node among the tile's sublevel-s nodes. */
  j: number;
  /** Entries of the tile the node needs: [0, minWidth). */
  minWidth: number;
}

// A node at tree level 8L + s covers entries [index * 2^s, (index + 1) * 2^s) of tile level
// L, which lie in one tile because 2^s divides 256.
function coord(n: NodeId): TileCoord {
  const tileLevel = Math.floor(n.level / TILE_HEIGHT);
  const s = n.level - tileLevel * TILE_HEIGHT;
  const span = 2 ** s;
  const first = n.index * span;
  const tileIndex = Math.floor(first / TILE_WIDTH);
  const j = (first - tileIndex * TILE_WIDTH) / span;
  return { tileLevel, tileIndex, s, j, minWidth: (j + 1) * span };
}

/** The hash tiles holding these nodes, each once, with the least width it must have. */
export function tilesForNodes(nodes: NodeId[]): Array<{ level: number; index: number; minWidth: number }> {
  const out = new Map<string, { level: number; index: number; minWidth: number }>();
  for (const n of nodes) {
    const c = coord(n);
    const key = tileKey(c.tileLevel, c.tileIndex);
    const t = out.get(key);
    if (!t) out.set(key, { level: c.tileLevel, index: c.tileIndex, minWidth: c.minWidth });
    else if (c.minWidth > t.minWidth) t.minWidth = c.minWidth;
  }
  return [...out.values()];
}

/**
 * Hash tile `index` of tile level `level` as stored: width * 32 bytes; it may be wider than
 * asked for (tiles are prefix-stable), or undefined if the caller does not have it.
 */
export type TileSource = (level: number, index: number) => Uint8Array | undefined;

function tileFor(c: TileCoord, tiles: TileSource): Uint8Array {
  const tile = tiles(c.tileLevel, c.tileIndex);
  if (!tile) throw new Error(`missing tile ${tileKey(c.tileLevel, c.tileIndex)}`);
  if (tile.byteLength % HASH_SIZE !== 0 || tile.byteLength > TILE_WIDTH * HASH_SIZE) {
    throw new Error(`tile ${tileKey(c.tileLevel, c.tileIndex)} has ${tile.byteLength} bytes, not a multiple of ${HASH_SIZE} up to ${TILE_WIDTH * HASH_SIZE}`);
  }
  if (tile.byteLength < c.minWidth * HASH_SIZE) {
    throw new Error(`tile ${tileKey(c.tileLevel, c.tileIndex)} is too narrow: got width ${tile.byteLength / HASH_SIZE}, want at least ${c.minWidth}`);
  }
  return tile;
}

/**
 * The hash of a perfect node, read from its tile or recomputed from the tile's entries for
 * levels between tile levels. Throws if the tile is missing or too narrow. With a cache,
 * interior nodes are memoised per tile buffer (see TileHashCache's contract).
 */
export function nodeHashFromTiles(node: NodeId, tiles: TileSource, cache?: TileHashCache): Uint8Array {
  const c = coord(node);
  const tile = tileFor(c, tiles);
  return tileSubtree(tile, c.s, c.j, cache?.memoFor(tile));
}

/**
 * The proof hashes of a plan (or [root] for planRoot), fetching each tile from `tiles` once.
 * Throws as nodeHashFromTiles does.
 */
export function assemble(plan: ProofPlan, tiles: TileSource, cache?: TileHashCache): Uint8Array[] {
  const got = new Map<string, { tile: Uint8Array; memo: TileMemo }>();
  const hashOf = (n: NodeId): Uint8Array => {
    const c = coord(n);
    const key = tileKey(c.tileLevel, c.tileIndex);
    let t = got.get(key);
    if (!t || t.tile.byteLength < c.minWidth * HASH_SIZE) {
      const tile = tileFor(c, tiles);
      t = { tile, memo: cache ? cache.memoFor(tile) : [] };
      got.set(key, t);
    }
    return tileSubtree(t.tile, c.s, c.j, t.memo);
  };
  const fold = (el: NodeId[]): Uint8Array => {
    let h = hashOf(el[el.length - 1]!);
    for (let i = el.length - 2; i >= 0; i--) h = nodeHash(hashOf(el[i]!), h);
    return h;
  };
  return plan.elements.map((el) => {
    if (el.length === 0) return EMPTY_ROOT;
    if (el.length === 1 || !cache) return fold(el);
    const first = el[0]!;
    const last = el[el.length - 1]!;
    return cache.fold(first.index * 2 ** first.level, (last.index + 1) * 2 ** last.level, () => fold(el));
  });
}
