// Proof generation throughput of the pure Merkle core: plan + assemble (inclusion and
// consistency) from an in-memory TileSource of deterministic fake hashes, at tree sizes
// 10^3, 10^6 and 10^9; and the cost of one sequencer batch through appendLeaves.
// Run alone: node --import tsx bench/core-proofs.ts (bench/core.ts calls benchProofs).
import { pathToFileURL } from 'node:url';
import {
  TileHashCache, appendLeaves, assemble, edgeFromTiles, planConsistency, planInclusion, type TileSource,
} from '../src/merkle/index.js';
import { printTable, type Row } from './table.js';

/**
 * A synthetic tile store: any tile is 256 fake 32-byte hashes derived from (level, index,
 * entry) without hashing. Tiles are kept in a bounded map, as a read server's tile cache
 * would, so repeated reads return the same buffer (which TileHashCache keys on).
 */
function syntheticSource(capacity = 8192): TileSource {
  const tiles = new Map<string, Uint8Array>();
  return (level, index) => {
    const key = `${level}/${index}`;
    let t = tiles.get(key);
    if (!t) {
      t = new Uint8Array(256 * 32);
      const dv = new DataView(t.buffer);
      for (let i = 0; i < 256; i++) {
        dv.setUint32(i * 32, level);
        dv.setFloat64(i * 32 + 4, index);
        dv.setUint32(i * 32 + 12, i);
      }
      if (tiles.size >= capacity) tiles.delete(tiles.keys().next().value!);
      tiles.set(key, t);
    }
    return t;
  };
}

/** Deterministic uniform integers in [0, n) (xorshift-free: a plain LCG on doubles). */
function lcg(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 48271) % 2147483647;
    return Math.floor((x / 2147483647) * n);
  };
}

function rate(fn: (i: number) => void, ms = 400): number {
  for (let i = 0; i < 200; i++) fn(i); // warm-up
  let n = 0;
  const start = performance.now();
  let el = 0;
  while ((el = performance.now() - start) < ms) {
    for (let k = 0; k < 100; k++) fn(n++);
  }
  return (n / el) * 1000;
}

export async function benchProofs(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [label, size] of [['10^3', 1e3], ['10^6', 1e6], ['10^9', 1e9]] as const) {
    const rand = lcg(12345);
    const source = syntheticSource();
    const cache = new TileHashCache();
    // Random leaves of a large tree land on tiles not in memory: each cold tile costs up
    // to 247 node hashes to rebuild its interior (tiles store only their bottom row, by
    // design). Reported without a target; the read server's tile LRU and interior-node
    // cache are what keep real proof traffic on the warm rows.
    rows.push({
      figure: `inclusion proofs, size ${label}, random leaf, interior-node cache`,
      value: rate(() => { assemble(planInclusion(rand(size), size), source, cache); }),
      unit: 'proofs/s',
    });
    rows.push({
      figure: `consistency proofs, size ${label}, random size1, interior-node cache`,
      value: rate(() => { assemble(planConsistency(1 + rand(size - 1), size), source, cache); }),
      unit: 'proofs/s',
    });
    // Recent leaves are what CAs and monitors mostly ask about: tiles at the right edge.
    rows.push({
      figure: `inclusion proofs, size ${label}, one of the last 1000 leaves, cache`,
      value: rate(() => { assemble(planInclusion(size - 1 - rand(Math.min(size, 1000)), size), source, cache); }),
      unit: 'proofs/s', target: 10_000, goal: 'min',
    });
    rows.push({
      figure: `inclusion proofs, size ${label}, random leaf, no cache`,
      value: rate(() => { assemble(planInclusion(rand(size), size), source); }),
      unit: 'proofs/s',
    });
  }

  // One sequencer batch: 1000 leaves onto a tree of 10^9 (edge loaded from fake tiles).
  const edge = edgeFromTiles(1e9, syntheticSource());
  const leaves = Array.from({ length: 1000 }, (_, i) => new Uint8Array(32).fill(i % 251));
  let sink = 0;
  const perSec = rate(() => { sink += appendLeaves(edge, leaves).changed.length; }, 600);
  rows.push({ figure: 'appendLeaves, 1000 leaves onto size 10^9 (incl. ~2k hashes)', value: 1000 / perSec, unit: 'ms/batch', target: 5, goal: 'max' });
  if (sink < 0) console.log(sink);
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ok = printTable('Merkle core: proofs and appends', await benchProofs());
  process.exitCode = ok ? 0 : 1;
}
