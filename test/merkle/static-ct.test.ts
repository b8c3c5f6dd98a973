// Tile math against real tiles of the Geomys navigli2025h2 static-ct-api log (Sunlight).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { b64, hex } from '../../src/util/bytes.js';
import {
  appendLeaves, assemble, dataTilePath, emptyEdge, planInclusion, planRoot, tilePath, tilesForSize,
  verifyInclusion, type TileSource,
} from '../../src/merkle/index.js';
import { RefTree } from './rfc6962-reference.js';

const dir = new URL('../fixtures/static-ct/navigli2025h2/', import.meta.url);
const read = (p: string) => new Uint8Array(readFileSync(new URL(p, dir)));
const derived = JSON.parse(readFileSync(new URL('derived.json', dir), 'utf8'));
const level0 = ['000', '001', '002', '003'].map((n) => read(`tile/0/${n}`));
const leafHashes = level0.flatMap((t) => Array.from({ length: t.length / 32 }, (_, i) => t.subarray(i * 32, i * 32 + 32)));

/**
 * Minimal static-ct-api TileLeaf reader, for this test only: returns the TimestampedEntry
 * bytes of each entry. TileLeaf = TimestampedEntry, then for precert entries
 * pre_certificate<1..2^24-1> and fingerprint list<0..2^16-1>; for x509 entries only the list.
 */
function timestampedEntries(tile: Uint8Array): Uint8Array[] {
  const b = Buffer.from(tile.buffer, tile.byteOffset, tile.byteLength);
  const out: Uint8Array[] = [];
  let p = 0;
  // Skip a length-prefixed vector (prefix of 2 or 3 bytes).
  const skip = (n: 2 | 3) => { const len = b.readUIntBE(p, n); p += n + len; };
  while (p < b.length) {
    const start = p;
    p += 8; // timestamp
    const entryType = b.readUInt16BE(p);
    p += 2;
    if (entryType === 0 /* x509_entry */) skip(3); // certificate
    else if (entryType === 1 /* precert_entry */) { p += 32; /* issuer_key_hash */ skip(3); /* tbs_certificate */ }
    else throw new Error(`entry type ${entryType} at ${start}`);
    skip(2); // extensions
    out.push(tile.subarray(start, p));
    if (entryType === 1) skip(3); // pre_certificate
    skip(2); // chain fingerprints
  }
  if (p !== b.length) throw new Error('trailing bytes');
  return out;
}

/** A TileSource over the fixture's level-0 tiles plus computed higher tiles. */
function sourceOf(tiles: Map<string, Uint8Array>): TileSource {
  return (level, index) => tiles.get(`${level}/${index}`);
}

describe('navigli2025h2 real tiles', () => {
  test('the fixture has the tile files tilesForSize names at level 0', () => {
    const l0 = (n: number) => tilesForSize(n).filter((t) => t.level === 0);
    for (const t of [...l0(1024), ...l0(778)]) {
      assert.ok(existsSync(new URL(tilePath(t), dir)), tilePath(t));
      assert.ok(existsSync(new URL(dataTilePath(t.index, t.width), dir)), dataTilePath(t.index, t.width));
    }
    assert.deepEqual(tilesForSize(778).map(tilePath), ['tile/0/000', 'tile/0/001', 'tile/0/002', 'tile/0/003.p/10', 'tile/1/000.p/3']);
  });

  test('partial tile 003.p/10 is the prefix of 003', () => {
    const p = read('tile/0/003.p/10');
    assert.equal(p.length, 10 * 32);
    assert.equal(hex(p), hex(level0[3]!.subarray(0, 320)));
  });

  test('leaf hashes recomputed from the data tiles equal the level-0 tiles', () => {
    assert.equal(b64(leafHashes[0]!), derived.first_leaf_hash_b64);
    ['000', '001', '002', '003'].forEach((n, t) => {
      const entries = timestampedEntries(read(`tile/data/${n}`));
      assert.equal(entries.length, 256);
      entries.forEach((e, i) => {
        // MerkleTreeLeaf = version v1 (0), leaf_type timestamped_entry (0), TimestampedEntry.
        const h = createHash('sha256').update(Uint8Array.of(0x00 /* leaf prefix */, 0 /* v1 */, 0 /* timestamped_entry */)).update(e).digest();
        assert.equal(hex(h), hex(leafHashes[t * 256 + i]!), `entry ${t * 256 + i}`);
      });
    });
    const partial = timestampedEntries(read('tile/data/003.p/10'));
    assert.equal(partial.length, 10);
  });

  test('roots of sizes 778 and 1024 via appendLeaves match derived.json', () => {
    const a = appendLeaves(emptyEdge(), leafHashes.slice(0, 778));
    assert.equal(b64(a.root), derived.root_hash_tree_size_778_b64);
    const b = appendLeaves(a.edge, leafHashes.slice(778));
    assert.equal(b64(b.root), derived.root_hash_tree_size_1024_b64);
    // The batch to 778 writes exactly tiles 0/000..002, 0/003.p/10 and 1/000.p/3; the right
    // edge tile 0/003 is then byte-identical to the real partial tile.
    assert.deepEqual(a.changed.map((c) => tilePath({ level: c.level, index: c.index, width: c.data.length / 32 })), tilesForSize(778).map(tilePath));
    assert.equal(hex(a.changed.find((c) => c.level === 0 && c.index === 3)!.data), hex(read('tile/0/003.p/10')));
    for (let i = 0; i < 3; i++) assert.equal(hex(a.changed[i]!.data), hex(level0[i]!));
  });

  test('level-1 tile computed from the four level-0 tiles', () => {
    const { changed } = appendLeaves(emptyEdge(), leafHashes);
    const l1 = changed.find((c) => c.level === 1)!;
    assert.equal(l1.data.length, 4 * 32);
    // Independent: the naive RFC 6962 MTH (noble SHA-256) of each 256-leaf block.
    const ref = new RefTree(leafHashes);
    for (let i = 0; i < 4; i++) assert.equal(hex(l1.data.subarray(i * 32, i * 32 + 32)), hex(ref.mth(i * 256, i * 256 + 256)));
    assert.deepEqual(changed.map((c) => `${c.level}/${c.index}@${c.data.length / 32}`), ['0/0@256', '0/1@256', '0/2@256', '0/3@256', '1/0@4']);
  });

  test('roots and proofs assembled from the real tiles (partial 003.p/10 for size 778)', () => {
    const l1 = appendLeaves(emptyEdge(), leafHashes).changed.find((c) => c.level === 1)!.data;
    const full = sourceOf(new Map([...level0.map((t, i) => [`0/${i}`, t] as const), ['1/0', l1]]));
    const at778 = sourceOf(new Map([
      ['0/0', level0[0]!], ['0/1', level0[1]!], ['0/2', level0[2]!], ['0/3', read('tile/0/003.p/10')], ['1/0', l1.subarray(0, 3 * 32)],
    ]));
    const root1024 = assemble(planRoot(1024), full)[0]!;
    const root778 = assemble(planRoot(778), at778)[0]!;
    assert.equal(b64(root1024), derived.root_hash_tree_size_1024_b64);
    assert.equal(b64(root778), derived.root_hash_tree_size_778_b64);
    for (const i of [0, 255, 256, 500, 767, 768, 777]) {
      verifyInclusion(leafHashes[i]!, i, 778, assemble(planInclusion(i, 778), at778), root778);
      verifyInclusion(leafHashes[i]!, i, 1024, assemble(planInclusion(i, 1024), full), root1024);
    }
    // Size 778 needs nothing past entry 10 of tile 0/003: a width-10 tile is enough.
    assert.throws(() => assemble(planRoot(779), at778), /too narrow/);
  });
});
