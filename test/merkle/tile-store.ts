// Test helpers: an in-memory tile store that applies appendLeaves' `changed` the way storage
// would, and a deterministic PRNG.
import { createHash } from 'node:crypto';
import { tileKey, type TileSource } from '../../src/merkle/index.js';

export class TileStore {
  readonly tiles = new Map<string, Uint8Array>();
  write(changed: Array<{ level: number; index: number; data: Uint8Array }>): void {
    for (const c of changed) {
      const key = tileKey(c.level, c.index);
      const old = this.tiles.get(key);
      // Tiles only grow and keep their prefix (full tiles are immutable).
      if (old && (old.length >= c.data.length || !Buffer.from(c.data.subarray(0, old.length)).equals(old))) {
        throw new Error(`tile ${key} rewritten inconsistently`);
      }
      this.tiles.set(key, c.data);
    }
  }
  source: TileSource = (level, index) => this.tiles.get(tileKey(level, index));
}

/** rand(n): deterministic integer in [0, n), from SHA-256 of a seed and a counter. */
export function prng(seed: string): (n: number) => number {
  let i = 0;
  return (n) => {
    const h = createHash('sha256').update(`${seed}/${i++}`).digest();
    return Math.floor((h.readUInt32BE(0) / 2 ** 32) * n);
  };
}
