// Published RFC 6962 vectors (8-leaf tree) and the transparency-dev/merkle probes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromB64, fromHex, hex } from '../../src/util/bytes.js';
import {
  EMPTY_ROOT, appendLeaves, assemble, emptyEdge, leafHash, nodeHash, planConsistency, planInclusion, planRoot,
  verifyConsistency, verifyInclusion,
} from '../../src/merkle/index.js';
import { TileStore } from './tile-store.js';

const fixtures = new URL('../fixtures/merkle/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));

interface Vectors {
  leaf_inputs_hex: string[];
  leaf_hashes_hex: string[];
  root_by_tree_size_hex: string[];
  extracted_inclusion_proofs: Array<{ leaf_index: number; tree_size: number; leaf_hash_hex: string; root_hex: string; audit_path_hex: string[] }>;
  extracted_consistency_proofs: Array<{ first: number; second: number; first_root_hex: string; second_root_hex: string; consistency_hex: string[] }>;
  all_inclusion_proofs: Array<{ leaf_index: number; tree_size: number; audit_path_hex: string[] }>;
  all_consistency_proofs: Array<{ first: number; second: number; consistency_hex: string[] }>;
  hash_function_checks: Record<string, string>;
}
const v: Vectors = load('rfc6962-reference-vectors.json');
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('RFC 6962 reference vectors', () => {
  test('hash functions', () => {
    const c = v.hash_function_checks;
    assert.equal(hex(EMPTY_ROOT), c.empty_tree_root_hex);
    assert.equal(hex(leafHash(new Uint8Array(0))), c.leaf_hash_of_empty_leaf_hex);
    assert.equal(hex(leafHash(utf8('L123456'))), c.leaf_hash_of_L123456_hex);
    assert.equal(hex(nodeHash(utf8('N123'), utf8('N456'))), c.node_hash_N123_N456_hex);
    v.leaf_inputs_hex.forEach((l, i) => assert.equal(hex(leafHash(fromHex(l))), v.leaf_hashes_hex[i]));
  });

  // One tree built leaf by leaf; the store keeps every tile so proofs of any size work.
  const store = new TileStore();
  let edge = emptyEdge();
  const roots: string[] = [hex(EMPTY_ROOT)];
  for (const l of v.leaf_inputs_hex) {
    const r = appendLeaves(edge, [leafHash(fromHex(l))]);
    store.write(r.changed);
    edge = r.edge;
    roots.push(hex(r.root));
  }

  test('roots of sizes 0..8 from appendLeaves and from planRoot', () => {
    assert.deepEqual(roots, v.root_by_tree_size_hex);
    for (let n = 0; n <= 8; n++) assert.equal(hex(assemble(planRoot(n), store.source)[0]!), v.root_by_tree_size_hex[n]);
  });

  test('all 36 inclusion proofs', () => {
    assert.equal(v.all_inclusion_proofs.length, 36);
    for (const p of v.all_inclusion_proofs) {
      const got = assemble(planInclusion(p.leaf_index, p.tree_size), store.source).map(hex);
      assert.deepEqual(got, p.audit_path_hex, `leaf ${p.leaf_index} of ${p.tree_size}`);
      verifyInclusion(fromHex(v.leaf_hashes_hex[p.leaf_index]!), p.leaf_index, p.tree_size, got.map(fromHex), fromHex(v.root_by_tree_size_hex[p.tree_size]!));
    }
  });

  test('all 36 consistency proofs', () => {
    assert.equal(v.all_consistency_proofs.length, 36);
    for (const p of v.all_consistency_proofs) {
      const got = assemble(planConsistency(p.first, p.second), store.source).map(hex);
      assert.deepEqual(got, p.consistency_hex, `${p.first} -> ${p.second}`);
      verifyConsistency(p.first, p.second, got.map(fromHex), fromHex(v.root_by_tree_size_hex[p.first]!), fromHex(v.root_by_tree_size_hex[p.second]!));
    }
  });

  test('extracted inclusion proofs (google/certificate-transparency)', () => {
    for (const p of v.extracted_inclusion_proofs) {
      assert.deepEqual(assemble(planInclusion(p.leaf_index, p.tree_size), store.source).map(hex), p.audit_path_hex);
      verifyInclusion(fromHex(p.leaf_hash_hex), p.leaf_index, p.tree_size, p.audit_path_hex.map(fromHex), fromHex(p.root_hex));
    }
  });

  test('extracted consistency proofs (google/certificate-transparency)', () => {
    for (const p of v.extracted_consistency_proofs) {
      assert.deepEqual(assemble(planConsistency(p.first, p.second), store.source).map(hex), p.consistency_hex);
      verifyConsistency(p.first, p.second, p.consistency_hex.map(fromHex), fromHex(p.first_root_hex), fromHex(p.second_root_hex));
    }
  });
});

// Probes decode base64 leniently on purpose: several carry deliberately wrong-length values
// ("don't care"), which the verifier must reject by length.
const b = (s: string) => fromB64(s) ?? new Uint8Array(Buffer.from(s, 'base64'));

interface InclusionProbe { file: string; leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean }
interface ConsistencyProbe { file: string; size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean }

describe('transparency-dev/merkle inclusion probes', () => {
  const probes: InclusionProbe[] = load('transparency-dev-inclusion-probes.json');
  test('fixture is complete (6 valid, 92 invalid)', () => {
    assert.equal(probes.filter((p) => !p.wantErr).length, 6);
    assert.equal(probes.filter((p) => p.wantErr).length, 92);
  });
  for (const p of probes) {
    test(`${p.file}: ${p.desc}`, () => {
      const run = () => verifyInclusion(b(p.leafHash), p.leafIdx, p.treeSize, (p.proof ?? []).map(b), b(p.root));
      if (p.wantErr) assert.throws(run);
      else run();
    });
  }
});

describe('transparency-dev/merkle consistency probes', () => {
  const probes: ConsistencyProbe[] = load('transparency-dev-consistency-probes.json');
  test('fixture is complete (6 valid, 92 invalid)', () => {
    assert.equal(probes.filter((p) => !p.wantErr).length, 6);
    assert.equal(probes.filter((p) => p.wantErr).length, 92);
  });
  for (const p of probes) {
    test(`${p.file}: ${p.desc}`, () => {
      const run = () => verifyConsistency(p.size1, p.size2, (p.proof ?? []).map(b), b(p.root1), b(p.root2));
      if (p.wantErr) assert.throws(run);
      else run();
    });
  }
});
