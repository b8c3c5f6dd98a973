// Plans, tile selection and assembly: shapes, errors and the interior-node and range caches.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/util/bytes.js';
import {
  TileHashCache, appendLeaves, assemble, emptyEdge, nodeHashFromTiles, planConsistency, planInclusion, planNodes,
  planRoot, tilesForNodes,
} from '../../src/merkle/index.js';
import { RefTree, refLeafHash } from './rfc6962-reference.js';
import { TileStore } from './tile-store.js';

const ls = Array.from({ length: 70_000 }, (_, i) => refLeafHash(new TextEncoder().encode(`p${i}`)));
const ref = new RefTree(ls);
const store = new TileStore();
store.write(appendLeaves(emptyEdge(), ls).changed);

const ids = (p: { elements: Array<Array<{ level: number; index: number }>> }) => p.elements.map((e) => e.map((n) => `${n.level}/${n.index}`));

describe('plans', () => {
  test('shapes for small trees', () => {
    assert.deepEqual(ids(planInclusion(0, 1)), []);
    assert.deepEqual(ids(planInclusion(0, 8)), [['0/1'], ['1/1'], ['2/1']]);
    assert.deepEqual(ids(planInclusion(6, 7)), [['1/2'], ['2/0']]);
    assert.deepEqual(ids(planInclusion(2, 7)), [['0/3'], ['1/0'], ['1/2', '0/6']]);
    assert.deepEqual(ids(planConsistency(3, 7)), [['0/2'], ['0/3'], ['1/0'], ['1/2', '0/6']]);
    assert.deepEqual(ids(planConsistency(4, 7)), [['1/2', '0/6']]);
    assert.deepEqual(ids(planConsistency(0, 7)), []);
    assert.deepEqual(ids(planConsistency(7, 7)), []);
    assert.deepEqual(ids(planRoot(0)), [[]]);
    assert.deepEqual(ids(planRoot(7)), [['2/0', '1/2', '0/6']]);
  });
  test('invalid arguments', () => {
    assert.throws(() => planInclusion(5, 5), RangeError);
    assert.throws(() => planInclusion(0, 0), RangeError);
    assert.throws(() => planInclusion(-1, 5), RangeError);
    assert.throws(() => planInclusion(0, 2 ** 53), RangeError);
    assert.throws(() => planConsistency(6, 5), RangeError);
    assert.throws(() => planRoot(1.5), RangeError);
  });
  test('planNodes dedupes and tilesForNodes asks each tile once with its widest need', () => {
    const plan = { elements: [...planInclusion(300, 70_000).elements, ...planConsistency(301, 70_000).elements] };
    const nodes = planNodes(plan);
    assert.equal(new Set(nodes.map((n) => `${n.level}/${n.index}`)).size, nodes.length);
    const tiles = tilesForNodes(nodes);
    assert.equal(new Set(tiles.map((t) => `${t.level}/${t.index}`)).size, tiles.length);
    // Leaf 300 is entry 44 of tile 0/1, whose sublevel-7 sibling is entries 128..255; the
    // right border of 70,000 = 273 * 256 + 112 needs 112 entries of tile 0/273.
    const w = new Map(tiles.map((t) => [`${t.level}/${t.index}`, t.minWidth]));
    assert.equal(w.get('0/273'), 112);
    assert.equal(w.get('1/1'), 17); // 70,000 / 256 = 273 entries at level 1: 256 + 17
    assert.equal(w.get('0/1'), 256);
  });
});

describe('assemble', () => {
  test('fetches each tile once and only the planned ones', () => {
    const asked: string[] = [];
    const src = (l: number, i: number) => { asked.push(`${l}/${i}`); return store.source(l, i); };
    const plan = planInclusion(12_345, 70_000);
    const got = assemble(plan, src);
    assert.deepEqual(got.map(hex), ref.path(12_345, 0, 70_000).map(hex));
    assert.deepEqual([...asked].sort(), tilesForNodes(planNodes(plan)).map((t) => `${t.level}/${t.index}`).sort());
  });
  test('missing and narrow tiles fail with got/want', () => {
    assert.throws(() => assemble(planRoot(70_000), () => undefined), /missing tile/);
    assert.throws(() => nodeHashFromTiles({ level: 3, index: 1 }, () => new Uint8Array(10 * 32)), /too narrow: got width 10, want at least 16/);
    assert.throws(() => nodeHashFromTiles({ level: 0, index: 0 }, () => new Uint8Array(33)), /not a multiple of 32/);
  });
  test('nodeHashFromTiles recomputes levels between tile levels', () => {
    for (const [level, index] of [[0, 5], [3, 7], [7, 1], [8, 3], [9, 1], [15, 0], [16, 0]] as const) {
      const lo = index * 2 ** level;
      assert.equal(hex(nodeHashFromTiles({ level, index }, store.source)), hex(ref.mth(lo, lo + 2 ** level)), `${level}/${index}`);
    }
  });
  test('the cache gives the same hashes, computed once per tile buffer', () => {
    const cache = new TileHashCache();
    for (const i of [0, 1, 255, 256, 40_000, 69_999]) {
      const plain = assemble(planInclusion(i, 70_000), store.source).map(hex);
      assert.deepEqual(assemble(planInclusion(i, 70_000), store.source, cache).map(hex), plain);
      assert.deepEqual(assemble(planInclusion(i, 70_000), store.source, cache).map(hex), plain);
      assert.deepEqual(assemble(planConsistency(i + 1, 70_000), store.source, cache).map(hex), ref.proof(i + 1, 70_000).map(hex));
    }
    assert.equal(hex(nodeHashFromTiles({ level: 5, index: 3 }, store.source, cache)), hex(ref.mth(96, 128)));
  });
  test('one cache across many tree sizes: right-edge ranges, memoised, still give the reference proofs', () => {
    const cache = new TileHashCache();
    for (const size of [70_000, 69_999, 65_537, 1_000, 70_000]) {
      for (const i of [0, 300, Math.floor(size / 2), size - 1]) {
        assert.deepEqual(assemble(planInclusion(i, size), store.source, cache).map(hex), ref.path(i, 0, size).map(hex), `${i} in ${size}`);
        if (i > 0) assert.deepEqual(assemble(planConsistency(i, size), store.source, cache).map(hex), ref.proof(i, size).map(hex), `${i} -> ${size}`);
      }
    }
  });
});
