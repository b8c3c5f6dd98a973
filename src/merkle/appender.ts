// Extending the tree, for the sequencer. Appending only ever touches the right edge: the
// one partial tile per level (full tiles are immutable), so a batch costs O(batch + levels)
// work whatever the tree size, plus the hashes of tiles the batch completes.
import { assertIndex } from '../util/bytes.js';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from './hash.js';
import type { TileSource } from './plan.js';
import { TILE_WIDTH, rightEdgeTiles, tileKey, tileSpan } from './tile.js';
import { tileSubtree } from './tile-hashes.js';

/**
 * The state needed to keep appending: the tree size and its partial right-edge tiles by
 * tileKey, each exactly width * 32 bytes (rightEdgeTiles(size) lists them). Treated as
 * immutable: appendLeaves returns a new edge.
 */
export interface RightEdge {
  size: number;
  tiles: Map<string, Uint8Array>;
}

/** The edge of the empty tree. */
export function emptyEdge(): RightEdge {
  return { size: 0, tiles: new Map() };
}

/**
 * Loads the edge of a stored tree of `size` by reading rightEdgeTiles(size) from `tiles`.
 * Throws if one is missing or narrower than the size implies.
 */
export function edgeFromTiles(size: number, tiles: TileSource): RightEdge {
  assertIndex(size, 'tree size');
  const out = new Map<string, Uint8Array>();
  for (const t of rightEdgeTiles(size)) {
    const key = tileKey(t.level, t.index);
    const data = tiles(t.level, t.index);
    if (!data) throw new Error(`missing right-edge tile ${key} (width ${t.width}) of tree size ${size}`);
    if (data.byteLength < t.width * HASH_SIZE) {
      throw new Error(`right-edge tile ${key} is too narrow for tree size ${size}: got width ${Math.floor(data.byteLength / HASH_SIZE)}, want ${t.width}`);
    }
    out.set(key, data.subarray(0, t.width * HASH_SIZE));
  }
  return { size, tiles: out };
}

function edgeTile(edge: RightEdge, level: number, index: number, width: number): Uint8Array {
  const t = edge.tiles.get(tileKey(level, index));
  if (!t || t.byteLength < width * HASH_SIZE) {
    throw new Error(`right edge of size ${edge.size} lacks tile ${tileKey(level, index)} of width ${width}`);
  }
  return t;
}

/**
 * Appends leaf hashes (32 bytes each) to the tree. Pure: the input edge is not modified.
 * Returns the new edge, the new root, and `changed`: every hash tile whose content changed
 * (extended partial tiles, new full and partial tiles, at every level), whole, width =
 * data.length / 32 — exactly what must be written to storage with this batch.
 */
export function appendLeaves(
  edge: RightEdge,
  leafHashes: Uint8Array[],
): { edge: RightEdge; root: Uint8Array; changed: Array<{ level: number; index: number; data: Uint8Array }> } {
  leafHashes.forEach((h, i) => {
    if (h.byteLength !== HASH_SIZE) throw new Error(`leaf hash ${i} must be ${HASH_SIZE} bytes, got ${h.byteLength}`);
  });
  const oldSize = edge.size;
  const newSize = oldSize + leafHashes.length;
  assertIndex(newSize, 'tree size');
  const changed: Array<{ level: number; index: number; data: Uint8Array }> = [];
  const written = new Map<string, Uint8Array>();

  // Level by level: new entries extend the level's partial tile; every tile they complete
  // contributes its root (a node of tree level 8(L+1)) as a new entry of level L+1.
  let entries = leafHashes;
  for (let level = 0; entries.length > 0; level++) {
    const nOld = Math.floor(oldSize / tileSpan(level));
    const nNew = nOld + entries.length;
    const first = Math.floor(nOld / TILE_WIDTH);
    const last = Math.floor((nNew - 1) / TILE_WIDTH);
    const parents: Uint8Array[] = [];
    let next = 0;
    for (let index = first; index <= last; index++) {
      const start = index * TILE_WIDTH;
      const width = Math.min(nNew - start, TILE_WIDTH);
      const data = new Uint8Array(width * HASH_SIZE);
      let w = 0;
      if (index === first && nOld > start) {
        w = nOld - start;
        data.set(edgeTile(edge, level, index, w).subarray(0, w * HASH_SIZE));
      }
      for (; w < width; w++) data.set(entries[next++]!, w * HASH_SIZE);
      changed.push({ level, index, data });
      if (width === TILE_WIDTH) parents.push(tileSubtree(data, 8 /* the tile root */, 0, []));
      else written.set(tileKey(level, index), data);
    }
    entries = parents;
  }

  const tiles = new Map<string, Uint8Array>();
  for (const t of rightEdgeTiles(newSize)) {
    const key = tileKey(t.level, t.index);
    tiles.set(key, written.get(key) ?? edgeTile(edge, t.level, t.index, t.width));
  }
  const next: RightEdge = { size: newSize, tiles };
  return { edge: next, root: rootOfEdge(next), changed };
}

/**
 * MTH of the tree the edge describes: the fold, largest first, of the perfect subtrees
 * given by the binary digits of its size; bits 8L..8L+7 are the sublevel subtrees of the
 * level-L partial tile.
 */
export function rootOfEdge(edge: RightEdge): Uint8Array {
  const nodes: Uint8Array[] = [];
  const edges = rightEdgeTiles(edge.size);
  for (let i = edges.length - 1; i >= 0; i--) {
    const t = edges[i]!;
    const data = edgeTile(edge, t.level, t.index, t.width);
    let at = 0;
    for (let s = 7; s >= 0; s--) {
      const span = 2 ** s;
      if (t.width - at >= span) {
        nodes.push(tileSubtree(data, s, at / span));
        at += span;
      }
    }
  }
  if (nodes.length === 0) return EMPTY_ROOT;
  let h = nodes[nodes.length - 1]!;
  for (let i = nodes.length - 2; i >= 0; i--) h = nodeHash(nodes[i]!, h);
  return h;
}
