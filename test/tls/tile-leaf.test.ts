import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCtExtensions, decodeDataTile, decodeDataTileAt, encodeMerkleTreeLeaf, encodeTileLeaf, TlsError } from '../../src/tls/index.js';
import { concat } from '../../src/util/bytes.js';

// Shared with the static-ct tests (test/fixtures/static-ct/README.md names the source).
const dir = join(import.meta.dirname, '../fixtures/static-ct/navigli2025h2');
const read = (name: string) => new Uint8Array(readFileSync(join(dir, name)));
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

describe('static-ct-api data tiles of the real navigli2025h2 log', () => {
  const tiles: Array<[string, string, number, number]> = [
    // name, file, first leaf index, width
    ['full tile 000', 'tile/data/000', 0, 256],
    ['full tile 001', 'tile/data/001', 256, 256],
    ['full tile 002', 'tile/data/002', 512, 256],
    ['full tile 003', 'tile/data/003', 768, 256],
    ['partial tile 003.p/10', 'tile/data/003.p/10', 768, 10],
  ];
  for (const [name, file, first, width] of tiles) {
    test(`${name}: decodes into ${width} TileLeafs that re-encode byte-exact`, () => {
      const tile = read(file);
      const leaves = decodeDataTile(tile);
      assert.equal(leaves.length, width);
      assert.deepEqual(concat(...leaves.map(encodeTileLeaf)), tile);
      leaves.forEach((l, i) => {
        assert.equal(decodeCtExtensions(l.entry.extensions).leafIndex, first + i, `leaf ${i}`);
        assert.equal(l.entry.entry.type, 'precert');
        assert.ok(l.preCertificate && l.preCertificate.byteLength > 0);
        // Fingerprints are SHA-256 of issuers; a chain always has at least the root's issuer.
        assert.ok(l.chainFingerprints.length > 0);
      });
    });
  }

  for (const n of ['000', '001', '002', '003']) test(`leaf hashes of data tile ${n} equal level-0 hash tile ${n}`, () => {
    const hashes = read(`tile/0/${n}`);
    const tile = read(`tile/data/${n}`);
    const at = decodeDataTileAt(tile);
    at.forEach(({ leaf, start, entryEnd }, i) => {
      const want = hashes.subarray(i * 32, i * 32 + 32);
      // RFC 6962 §2.1 leaf hash over the MerkleTreeLeaf we re-encode ...
      assert.deepEqual(sha256(new Uint8Array([0]), encodeMerkleTreeLeaf(leaf.entry)), want, `leaf ${i}`);
      // ... and over the TimestampedEntry bytes in place.
      assert.deepEqual(sha256(new Uint8Array([0, 0, 0]), tile.subarray(start, entryEnd)), want, `leaf ${i} in place`);
    });
    if (n !== '000') return;
    const derived = JSON.parse(readFileSync(join(dir, 'derived.json'), 'utf8')) as { first_leaf_hash_b64: string };
    assert.equal(Buffer.from(hashes.subarray(0, 32)).toString('base64'), derived.first_leaf_hash_b64);
  });

  test('a tile cut mid-leaf is rejected naming the field', () => {
    const tile = read('tile/data/003.p/10');
    assert.throws(() => decodeDataTile(tile.subarray(0, tile.byteLength - 40)), (e: unknown) => e instanceof TlsError && /^TileLeaf\./.test(e.message));
  });

  test('more than 256 leaves is rejected', () => {
    const tile = read('tile/data/000');
    const first = decodeDataTileAt(tile)[0]!;
    assert.throws(() => decodeDataTile(concat(tile, tile.subarray(first.start, first.end))), /data tile: more than 256 entries/);
  });

  test('an x509 TileLeaf round-trips (no pre_certificate) and a ragged fingerprint list is rejected', () => {
    const leaf = {
      entry: { timestamp: 1_700_000_000_000, entry: { type: 'x509' as const, certificate: new Uint8Array([0x30, 0x00]) }, extensions: new Uint8Array([0, 0, 5, 0, 0, 0, 0, 7]) },
      chainFingerprints: [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)],
    };
    const b = encodeTileLeaf(leaf);
    assert.deepEqual(decodeDataTile(b), [leaf]);
    const ragged = concat(b.subarray(0, b.byteLength - 66), new Uint8Array([0, 33]), new Uint8Array(33));
    assert.throws(() => decodeDataTile(ragged), /TileLeaf.certificate_chain: length 33 is not a multiple of 32/);
  });
});
