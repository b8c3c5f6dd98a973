// Sizes and indexes beyond 2^32. Planned node ids are compared with a bigint reference that
// uses the bit formulation of the tree (siblings by XOR, ephemeral right-border nodes from
// the set bits of a range) rather than RFC 6962's recursive split the planner follows. Then
// whole proofs are assembled from a virtual tree with identical leaves (every perfect node
// of a level has the same hash, so any tile is cheap to produce) and verified.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/util/bytes.js';
import {
  EMPTY_ROOT, TILE_WIDTH, assemble, leafHash, nodeHash, planConsistency, planInclusion, planNodes, planRoot, rightEdgeTiles,
  tilePath, tilesForNodes, tilesForSize, verifyConsistency, verifyInclusion, type NodeId, type ProofPlan,
} from '../../src/merkle/index.js';

type BigNode = { level: bigint; index: bigint };

/** Perfect nodes of [begin, end), largest first, by the set bits of end - begin. */
function bigRange(begin: bigint, end: bigint): BigNode[] {
  const out: BigNode[] = [];
  let at = begin;
  const len = end - begin;
  for (let b = BigInt(len.toString(2).length) - 1n; b >= 0n; b--) {
    if ((len >> b) & 1n) {
      out.push({ level: b, index: at >> b });
      at += 1n << b;
    }
  }
  return out;
}

/** Audit path of node (level, idx) up to the root of a tree of `size` leaves, bottom up. */
function bigPathFrom(level: bigint, idx: bigint, size: bigint): BigNode[][] {
  const out: BigNode[][] = [];
  for (let l = level; (1n << l) < size || idx > 0n; l++, idx >>= 1n) {
    const sib = idx ^ 1n;
    const start = sib << l;
    if (start >= size) continue; // no right sibling yet: the node is promoted a level
    const end = (sib + 1n) << l;
    out.push(end <= size ? [{ level: l, index: sib }] : bigRange(start, size));
  }
  return out;
}

function bigInclusion(index: bigint, size: bigint): BigNode[][] {
  return bigPathFrom(0n, index, size);
}

/** The last perfect node of size1's decomposition, then (unless it is the whole old tree) its path in size2. */
function bigConsistency(size1: bigint, size2: bigint): BigNode[][] {
  if (size1 === 0n || size1 === size2) return [];
  let level = 0n;
  while (((size1 >> level) & 1n) === 0n) level++;
  const idx = (size1 >> level) - 1n;
  const path = bigPathFrom(level, idx, size2);
  return idx === 0n ? path : [[{ level, index: idx }], ...path];
}

const toBig = (p: ProofPlan): string[][] => p.elements.map((el) => el.map((n) => `${n.level}/${n.index}`));
const fromBig = (els: BigNode[][]): string[][] => els.map((el) => el.map((n) => `${n.level}/${n.index}`));

const E32 = 2 ** 32;
const E40 = 2 ** 40;
const SIZES = [E32 - 1, E32, E32 + 1, E40 + 12345, 2 ** 48 - 3, 2 ** 52 + 2 ** 33 + 7, Number.MAX_SAFE_INTEGER];

function indexesFor(size: number): number[] {
  return [0, 1, 255, 256, E32 - 1, E32, E32 + 1, Math.floor(size / 2), Math.floor(size / 3) * 2, size - 257, size - 2, size - 1].filter((i) => i >= 0 && i < size);
}

describe('plans beyond 2^32 match the bigint reference', () => {
  for (const size of SIZES) {
    test(`inclusion plans in a tree of ${size}`, () => {
      for (const i of indexesFor(size)) {
        assert.deepEqual(toBig(planInclusion(i, size)), fromBig(bigInclusion(BigInt(i), BigInt(size))), `leaf ${i}`);
      }
    });
    test(`consistency plans to a tree of ${size}`, () => {
      for (const m of [1, 2, 3, 1000, E32 - 1, E32, E32 + 1, E40, size - 1, size].filter((m) => m > 0 && m <= size)) {
        assert.deepEqual(toBig(planConsistency(m, size)), fromBig(bigConsistency(BigInt(m), BigInt(size))), `from ${m}`);
      }
    });
  }

  test('the bigint reference itself matches small RFC 6962 proofs in shape (sizes 1..70)', () => {
    for (let n = 1; n <= 70; n++) {
      for (let i = 0; i < n; i++) assert.deepEqual(toBig(planInclusion(i, n)), fromBig(bigInclusion(BigInt(i), BigInt(n))));
      for (let m = 1; m <= n; m++) assert.deepEqual(toBig(planConsistency(m, n)), fromBig(bigConsistency(BigInt(m), BigInt(n))));
    }
  });
});

/** Tile (level, index) holding node n, with its minimum width, in bigint. */
function bigTileOf(n: NodeId): string {
  const level = BigInt(n.level);
  const tl = level / 8n;
  const s = level % 8n;
  const first = BigInt(n.index) << s;
  const ti = first >> 8n;
  const minWidth = first + (1n << s) - (ti << 8n);
  return `${tl}/${ti}/${minWidth}`;
}

/** tlog-tiles path of a bigint tile index. */
function bigTilePath(level: number, index: bigint, width: number): string {
  const groups: string[] = [];
  let n = index;
  do {
    groups.unshift((n % 1000n).toString().padStart(3, '0'));
    n /= 1000n;
  } while (n > 0n);
  return `tile/${level}/${groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')}${width === 256 ? '' : `.p/${width}`}`;
}

describe('tile addressing beyond 2^32', () => {
  const size = E40 + 12345;
  test('tilesForNodes of a proof plan match the bigint computation', () => {
    const plan = { elements: [...planInclusion(E32 + 77, size).elements, ...planConsistency(E32 + 1, size).elements] };
    const nodes = planNodes(plan);
    const want = new Map<string, number>();
    for (const n of nodes) {
      const [l, i, w] = bigTileOf(n).split('/');
      const key = `${l}/${i}`;
      want.set(key, Math.max(want.get(key) ?? 0, Number(w)));
    }
    const got = tilesForNodes(nodes);
    assert.deepEqual(new Map(got.map((t) => [`${t.level}/${t.index}`, t.minWidth])), want);
    for (const t of got) assert.equal(tilePath({ level: t.level, index: t.index, width: 256 }), bigTilePath(t.level, BigInt(t.index), 256));
  });

  test('right edge and tile paths of 2^40 + 12345', () => {
    const N = BigInt(size);
    const want = [];
    for (let l = 0n; N >> (8n * l) > 0n; l++) {
      const n = N >> (8n * l);
      if (n % 256n !== 0n) want.push(bigTilePath(Number(l), n / 256n, Number(n % 256n)));
    }
    assert.deepEqual(rightEdgeTiles(size).map(tilePath), want);
    // By hand: 2^40 + 12345 = (2^32 + 48) * 256 + 57; 2^32 + 48 = 2^24 * 256 + 48; 2^24 = 256^3.
    assert.deepEqual(want, ['tile/0/x004/x294/x967/344.p/57', 'tile/1/x016/x777/216.p/48', 'tile/5/000.p/1']);
  });
});

describe('tilesForSize', () => {
  test('every level of a 4-level tree, counted', () => {
    const s = 3 * 2 ** 24 + 5 * 2 ** 16 + 300;
    const byLevel = new Map<number, number>();
    let partial = 0;
    for (const t of tilesForSize(s)) {
      byLevel.set(t.level, (byLevel.get(t.level) ?? 0) + t.width);
      if (t.width < TILE_WIDTH) partial++;
    }
    // Level L holds floor(size / 256^L) hashes in all.
    assert.deepEqual([...byLevel], [[0, s], [1, Math.floor(s / 256)], [2, Math.floor(s / 65536)], [3, 3]]);
    assert.equal(partial, 4); // 300 % 256 = 44 at level 0, 5 * 256 + 1 -> 1 at level 1, 773 % 256 = 5 at level 2, 3 at level 3
  });
  test('small and boundary sizes', () => {
    const paths = (n: number) => tilesForSize(n).map(tilePath);
    assert.deepEqual(paths(0), []);
    assert.deepEqual(paths(1), ['tile/0/000.p/1']);
    assert.deepEqual(paths(256), ['tile/0/000', 'tile/1/000.p/1']);
    assert.deepEqual(paths(513), ['tile/0/000', 'tile/0/001', 'tile/0/002.p/1', 'tile/1/000.p/2']);
    assert.deepEqual(paths(65536).slice(-3), ['tile/0/255', 'tile/1/000', 'tile/2/000.p/1']);
    assert.deepEqual(rightEdgeTiles(65536).map(tilePath), ['tile/2/000.p/1']);
    assert.deepEqual(rightEdgeTiles(0), []);
  });
});

describe('proofs in a virtual tree of identical leaves beyond 2^32', () => {
  // With every leaf equal, a perfect node's hash depends only on its level: H[l].
  const H: Uint8Array[] = [leafHash(new TextEncoder().encode('same'))];
  for (let l = 1; l <= 64; l++) H.push(nodeHash(H[l - 1]!, H[l - 1]!));
  const tile = new Map<number, Uint8Array>();
  const source = (level: number, _index: number) => {
    let t = tile.get(level);
    if (!t) {
      t = new Uint8Array(256 * 32);
      for (let i = 0; i < 256; i++) t.set(H[8 * level]!, i * 32);
      tile.set(level, t);
    }
    return t;
  };
  // MTH written from RFC 6962 §2.1 for a tree of identical leaves.
  const mth = (n: number): Uint8Array => {
    if (n === 0) return EMPTY_ROOT;
    let k = 1;
    let l = 0;
    while (k * 2 <= n) { k *= 2; l++; }
    if (k === n) return H[l]!;
    return nodeHash(H[l]!, mth(n - k));
  };

  for (const size of SIZES) {
    test(`root, inclusion and consistency at ${size}`, () => {
      const root = assemble(planRoot(size), source)[0]!;
      assert.equal(hex(root), hex(mth(size)));
      for (const i of indexesFor(size)) verifyInclusion(H[0]!, i, size, assemble(planInclusion(i, size), source), root);
      for (const m of [1, 3, E32 - 1, E32, E32 + 1, size - 1].filter((m) => m > 0 && m < size)) {
        verifyConsistency(m, size, assemble(planConsistency(m, size), source), mth(m), root);
      }
      // A wrong index of the same shape fails.
      assert.throws(() => verifyInclusion(H[1]!, 0, size, assemble(planInclusion(0, size), source), root));
    });
  }
});
