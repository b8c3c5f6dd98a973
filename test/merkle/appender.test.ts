// appendLeaves / edgeFromTiles / rootOfEdge: purity, reload from storage, exact `changed`, errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/util/bytes.js';
import {
  EMPTY_ROOT, appendLeaves, edgeFromTiles, emptyEdge, rightEdgeTiles, rootOfEdge, tileKey, type RightEdge,
} from '../../src/merkle/index.js';
import { RefTree, refLeafHash } from './rfc6962-reference.js';
import { TileStore } from './tile-store.js';

const ls = Array.from({ length: 3000 }, (_, i) => refLeafHash(new TextEncoder().encode(`a${i}`)));
const ref = new RefTree(ls);

function snapshot(e: RightEdge): string {
  return `${e.size}|${[...e.tiles].map(([k, v]) => `${k}=${hex(v)}`).join(',')}`;
}

describe('appendLeaves', () => {
  test('empty tree', () => {
    assert.equal(hex(rootOfEdge(emptyEdge())), hex(EMPTY_ROOT));
    const r = appendLeaves(emptyEdge(), []);
    assert.equal(r.edge.size, 0);
    assert.deepEqual(r.changed, []);
    assert.equal(hex(r.root), hex(EMPTY_ROOT));
  });

  test('an empty batch changes nothing', () => {
    const a = appendLeaves(emptyEdge(), ls.slice(0, 700));
    const b = appendLeaves(a.edge, []);
    assert.deepEqual(b.changed, []);
    assert.equal(hex(b.root), hex(a.root));
    assert.equal(snapshot(b.edge), snapshot(a.edge));
  });

  test('does not modify its input edge', () => {
    const a = appendLeaves(emptyEdge(), ls.slice(0, 300));
    const before = snapshot(a.edge);
    appendLeaves(a.edge, ls.slice(300, 1000));
    appendLeaves(a.edge, ls.slice(300, 301));
    assert.equal(snapshot(a.edge), before);
  });

  const batches: Array<[string, number, number]> = [
    ['within one tile', 10, 20],
    ['exactly filling a tile', 200, 56],
    ['from a tile boundary', 256, 1],
    ['crossing several tiles', 250, 800],
    ['completing a level-1 entry from zero', 0, 512],
    ['one leaf at a time around 256', 255, 1],
  ];
  for (const [name, from, count] of batches) {
    test(`changed is exactly the touched tiles: ${name}`, () => {
      const a = appendLeaves(emptyEdge(), ls.slice(0, from));
      const b = appendLeaves(a.edge, ls.slice(from, from + count));
      const to = from + count;
      // Level L holds floor(size / 256^L) entries; a tile changed iff it gained entries.
      const want: string[] = [];
      for (let l = 0; Math.floor(to / 256 ** l) > 0; l++) {
        const nOld = Math.floor(from / 256 ** l);
        const nNew = Math.floor(to / 256 ** l);
        if (nNew === nOld) continue;
        for (let t = Math.floor(nOld / 256); t <= Math.floor((nNew - 1) / 256); t++) want.push(`${l}/${t}@${Math.min(256, nNew - t * 256)}`);
      }
      assert.deepEqual(b.changed.map((c) => `${c.level}/${c.index}@${c.data.length / 32}`), want);
      assert.equal(hex(b.root), hex(ref.mth(0, to)));
      // The new edge holds exactly the right-edge tiles, each exactly as wide as the size implies.
      assert.deepEqual([...b.edge.tiles].map(([k, v]) => `${k}@${v.length / 32}`), rightEdgeTiles(to).map((t) => `${tileKey(t.level, t.index)}@${t.width}`));
    });
  }

  test('reloading the edge from stored tiles continues the same tree', () => {
    const store = new TileStore();
    let edge = emptyEdge();
    for (const n of [1, 255, 300, 1000, 44, 400]) {
      // Reload from storage before each batch, as a restarted sequencer would.
      const loaded = edgeFromTiles(edge.size, store.source);
      assert.equal(snapshot(loaded), snapshot(edge));
      const r = appendLeaves(loaded, ls.slice(edge.size, edge.size + n));
      store.write(r.changed);
      edge = r.edge;
      assert.equal(hex(r.root), hex(ref.mth(0, edge.size)));
    }
  });

  test('edgeFromTiles accepts wider tiles and trims them to the size', () => {
    const r = appendLeaves(emptyEdge(), ls.slice(0, 600));
    const store = new TileStore();
    store.write(r.changed);
    const e = edgeFromTiles(550, store.source);
    assert.equal(e.tiles.get('0/2')!.length, 38 * 32);
    assert.equal(hex(rootOfEdge(e)), hex(ref.mth(0, 550)));
  });

  test('errors name what is wrong', () => {
    assert.throws(() => appendLeaves(emptyEdge(), [new Uint8Array(31)]), /leaf hash 0 must be 32 bytes, got 31/);
    assert.throws(() => edgeFromTiles(300, () => undefined), /missing right-edge tile 0\/1 \(width 44\)/);
    assert.throws(() => edgeFromTiles(300, (l) => (l === 0 ? new Uint8Array(40 * 32) : new Uint8Array(32))), /too narrow .* got width 40, want 44/);
    assert.throws(() => appendLeaves({ size: 300, tiles: new Map() }, [ls[0]!]), /lacks tile 0\/1 of width 44/);
    assert.throws(() => edgeFromTiles(-1, () => undefined), RangeError);
  });
});
