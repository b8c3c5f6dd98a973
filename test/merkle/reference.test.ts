// The tile-based plan + assemble code against the naive RFC 6962 §2.1 reference, on trees
// built through appendLeaves in random batches; every produced proof is also verified.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/util/bytes.js';
import {
  appendLeaves, assemble, emptyEdge, planConsistency, planInclusion, planRoot, rootOfEdge, verifyConsistency,
  tileKey, tilesForSize, verifyInclusion, type RightEdge,
} from '../../src/merkle/index.js';
import { RefTree, refLeafHash } from './rfc6962-reference.js';
import { TileStore, prng } from './tile-store.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

function leaves(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => refLeafHash(utf8(`leaf ${i}`)));
}

/** Checks every listed inclusion and consistency proof of the tree of `size` held in `store`. */
function checkProofs(ref: RefTree, store: TileStore, size: number, indexes: Iterable<number>, size1s: Iterable<number>): void {
  const root = ref.mth(0, size);
  assert.equal(hex(assemble(planRoot(size), store.source)[0]!), hex(root), `root of ${size}`);
  for (const i of indexes) {
    const got = assemble(planInclusion(i, size), store.source);
    assert.deepEqual(got.map(hex), ref.path(i, 0, size).map(hex), `inclusion ${i} of ${size}`);
    verifyInclusion(ref.leafHashes[i]!, i, size, got, root);
  }
  for (const m of size1s) {
    const got = assemble(planConsistency(m, size), store.source);
    // PROOF(0, D[n]) is undefined in RFC 6962; the plan is empty by contract.
    const want = m === 0 ? [] : ref.proof(m, size);
    assert.deepEqual(got.map(hex), want.map(hex), `consistency ${m} -> ${size}`);
    if (m > 0) verifyConsistency(m, size, got, ref.mth(0, m), root);
  }
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

describe('plan + assemble agree with the RFC 6962 reference', () => {
  test('every index and size1 for sizes 1..64, sampled for 65..300, tree grown one leaf at a time', () => {
    const ls = leaves(300);
    const ref = new RefTree(ls);
    const store = new TileStore();
    const rand = prng('small');
    let edge: RightEdge = emptyEdge();
    for (let size = 1; size <= 300; size++) {
      const r = appendLeaves(edge, [ls[size - 1]!]);
      store.write(r.changed);
      edge = r.edge;
      assert.equal(hex(r.root), hex(ref.mth(0, size)), `appended root of ${size}`);
      if (size <= 64) {
        checkProofs(ref, store, size, range(0, size), range(0, size + 1));
      } else {
        const sample = [0, size - 1, ...Array.from({ length: 12 }, () => rand(size))];
        checkProofs(ref, store, size, sample, [0, 1, size - 1, size, ...sample.map((i) => i + 1)]);
      }
    }
  });

  test('random batch sizes up to ~70,000 leaves (level-1 tiles and their partial edges)', () => {
    const total = 70_000;
    const ls = leaves(total);
    const ref = new RefTree(ls);
    const store = new TileStore();
    const rand = prng('large');
    let edge: RightEdge = emptyEdge();
    const sizes: number[] = [];
    while (edge.size < total) {
      // Mostly batches like the sequencer's, sometimes a single leaf or a tile-crossing burst.
      const pick = rand(10);
      const batch = Math.min(total - edge.size, pick === 0 ? 1 : pick === 1 ? 1 + rand(5000) : 1 + rand(1000));
      const before = edge;
      const r = appendLeaves(edge, ls.slice(edge.size, edge.size + batch));
      assert.equal(before.size, sizes.at(-1) ?? 0, 'input edge untouched');
      store.write(r.changed);
      edge = r.edge;
      sizes.push(edge.size);
      assert.equal(hex(r.root), hex(ref.mth(0, edge.size)), `root after batch to ${edge.size}`);
      assert.equal(hex(rootOfEdge(edge)), hex(r.root));
      // The store now holds exactly the tiles of this size: nothing missed, nothing extra.
      const want = tilesForSize(edge.size).map((t) => `${tileKey(t.level, t.index)}@${t.width}`);
      const have = [...store.tiles].map(([k, d]) => `${k}@${d.length / 32}`);
      assert.deepEqual(have.sort(), want.sort(), `tiles of ${edge.size}`);
      const size = edge.size;
      const idx = [0, size - 1, ...Array.from({ length: 4 }, () => rand(size))];
      const earlier = [sizes[rand(sizes.length)]!, 1 + rand(size), size - 1];
      checkProofs(ref, store, size, idx, earlier);
    }
    assert.ok(sizes.length > 50, `${sizes.length} batches`);
  });
});
