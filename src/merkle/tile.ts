// C2SP tlog-tiles addressing with tile height 8: a level-L hash tile holds up to 256
// consecutive hashes of tree level 8L (perfect subtrees of 256^L leaves); tile N of a level
// covers entries [256N, 256N + W). A tile is full at W = 256; the right edge of a tree may
// have one partial tile per level, served as `.p/<W>`.
import { assertIndex } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';
import { HASH_SIZE } from './hash.js';

export { HASH_SIZE };
/** Tree levels per tile (tlog-tiles "height"). */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;
/** tlog-tiles: "<L> ... MUST be a decimal ASCII integer between 0 and 63". */
export const MAX_TILE_LEVEL = 63;

/** A hash tile: `level` is the tile level (tree level 8 * level), `width` 1..256 hashes. */
export interface TileId {
  level: number;
  index: number;
  width: number;
}

/** 256^level, exact as a double for every level used with safe-integer sizes. */
export function tileSpan(level: number): number {
  return 2 ** (TILE_HEIGHT * level);
}

/** Map key of a tile regardless of width, e.g. "3/12"; the key of RightEdge.tiles and fetch results. */
export function tileKey(level: number, index: number): string {
  return `${level}/${index}`;
}

function checkTile(level: number | 'data', index: number, width: number): void {
  if (level !== 'data' && (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL)) {
    throw new RangeError(`tile level must be an integer in 0..${MAX_TILE_LEVEL}, got ${level}`);
  }
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`tile index must be a non-negative safe integer, got ${index}`);
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError(`tile width must be in 1..${TILE_WIDTH}, got ${width}`);
}

// "<N> ... MUST be a non-negative integer encoded into 3-digit path elements. All but the
// last path element MUST begin with an x", e.g. 1234067 -> x001/x234/067.
function encodeIndex(index: number): string {
  let s = String(index);
  s = s.padStart(Math.ceil(s.length / 3) * 3, '0');
  const groups: string[] = [];
  for (let i = 0; i < s.length; i += 3) groups.push(s.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

function suffix(width: number): string {
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** "tile/<L>/<N>[.p/<W>]" (no leading slash). Throws RangeError on an invalid id. */
export function tilePath(t: TileId): string {
  checkTile(t.level, t.index, t.width);
  return `tile/${t.level}/${encodeIndex(t.index)}${suffix(t.width)}`;
}

/** "tile/data/<N>[.p/<W>]": the static-ct-api data tile holding entries [256N, 256N + W). */
export function dataTilePath(index: number, width: number): string {
  checkTile('data', index, width);
  return `tile/data/${encodeIndex(index)}${suffix(width)}`;
}

const LEVEL_RE = /^(0|[1-9][0-9]?)$/;
const WIDTH_RE = /^[1-9][0-9]{0,2}$/;
const X_GROUP_RE = /^x[0-9]{3}$/;
const LAST_GROUP_RE = /^([0-9]{3})(\.p)?$/;
// 2^53 has 16 digits: six 3-digit groups are the most a safe integer needs.
const MAX_GROUPS = 6;

/**
 * Parses "tile/<L>/<N>[.p/<W>]" or "tile/data/<N>[.p/<W>]" (no leading slash). Only the
 * canonical encoding is accepted (no leading zeros in L or W, no leading "x000" groups,
 * W in 1..255), so each tile has exactly one URL. Width is 256 without ".p".
 * Throws CtError 400 "bad_tile_path" otherwise.
 */
export function parseTilePath(path: string): { level: number | 'data'; index: number; width: number } {
  const bad = (why: string) => badRequest('bad_tile_path', `malformed tile path ${JSON.stringify(path.slice(0, 100))}: ${why}`);
  const parts = path.split('/');
  if (parts.length < 3 || parts[0] !== 'tile') throw bad('want tile/<L>/<N>[.p/<W>]');
  let level: number | 'data';
  const l = parts[1]!;
  if (l === 'data') level = 'data';
  else if (LEVEL_RE.test(l) && Number(l) <= MAX_TILE_LEVEL) level = Number(l);
  else throw bad(`level must be "data" or 0..${MAX_TILE_LEVEL} without leading zeros`);

  let rest = parts.slice(2);
  let width = TILE_WIDTH;
  const lastIdx = rest.findIndex((p) => !X_GROUP_RE.test(p));
  if (lastIdx < 0) throw bad('index has no final 3-digit element');
  const m = LAST_GROUP_RE.exec(rest[lastIdx]!);
  if (!m) throw bad('index elements must be 3 digits, all but the last prefixed with x');
  if (m[2]) {
    if (rest.length !== lastIdx + 2) throw bad('".p" must be followed by exactly one width element');
    const w = rest[lastIdx + 1]!;
    if (!WIDTH_RE.test(w) || Number(w) >= TILE_WIDTH) throw bad(`partial width must be 1..${TILE_WIDTH - 1} without leading zeros`);
    width = Number(w);
  } else if (rest.length !== lastIdx + 1) {
    throw bad('unexpected elements after the index');
  }
  rest = rest.slice(0, lastIdx + 1);
  if (rest.length > MAX_GROUPS) throw bad('index too large');
  if (rest.length > 1 && rest[0] === 'x000') throw bad('index has leading zero elements');
  let index = 0;
  for (let i = 0; i < rest.length; i++) {
    const digits = i === rest.length - 1 ? m[1]! : rest[i]!.slice(1);
    index = index * 1000 + Number(digits);
  }
  if (!Number.isSafeInteger(index)) throw bad('index too large');
  return { level, index, width };
}

/**
 * Every hash tile a tree of `size` leaves has, all levels, full tiles and the partial right
 * edge: level L holds floor(size / 256^L) hashes. Ordered by level, then index. Note this
 * is O(size / 256) tiles; for appending use rightEdgeTiles.
 */
export function tilesForSize(size: number): TileId[] {
  assertIndex(size, 'tree size');
  const out: TileId[] = [];
  for (let level = 0; ; level++) {
    const n = Math.floor(size / tileSpan(level));
    if (n === 0) break;
    const full = Math.floor(n / TILE_WIDTH);
    for (let index = 0; index < full; index++) out.push({ level, index, width: TILE_WIDTH });
    const w = n - full * TILE_WIDTH;
    if (w > 0) out.push({ level, index: full, width: w });
  }
  return out;
}

/** The partial tiles at the right edge of a tree of `size` leaves, at most one per level, by level. */
export function rightEdgeTiles(size: number): TileId[] {
  assertIndex(size, 'tree size');
  const out: TileId[] = [];
  for (let level = 0; ; level++) {
    const n = Math.floor(size / tileSpan(level));
    if (n === 0) break;
    const index = Math.floor(n / TILE_WIDTH);
    const w = n - index * TILE_WIDTH;
    if (w > 0) out.push({ level, index, width: w });
  }
  return out;
}
