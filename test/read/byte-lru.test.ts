// ByteLru: bounded by bytes, least recently used out first.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ByteLru } from '../../src/read/byte-lru.js';

describe('ByteLru', () => {
  const cases: Array<{ name: string; max: number; ops: Array<['set', string, number] | ['get', string]>; keys: string[]; bytes: number }> = [
    { name: 'keeps what fits', max: 10, ops: [['set', 'a', 4], ['set', 'b', 6]], keys: ['a', 'b'], bytes: 10 },
    { name: 'evicts the oldest', max: 10, ops: [['set', 'a', 4], ['set', 'b', 4], ['set', 'c', 4]], keys: ['b', 'c'], bytes: 8 },
    { name: 'a get makes an entry recent', max: 10, ops: [['set', 'a', 4], ['set', 'b', 4], ['get', 'a'], ['set', 'c', 4]], keys: ['a', 'c'], bytes: 8 },
    { name: 'replacing a key frees its old size', max: 10, ops: [['set', 'a', 8], ['set', 'a', 2], ['set', 'b', 8]], keys: ['a', 'b'], bytes: 10 },
    { name: 'a value larger than the budget is not kept', max: 10, ops: [['set', 'a', 4], ['set', 'big', 11]], keys: ['a'], bytes: 4 },
    { name: 'one large value evicts several', max: 10, ops: [['set', 'a', 3], ['set', 'b', 3], ['set', 'c', 3], ['set', 'd', 9]], keys: ['d'], bytes: 9 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const lru = new ByteLru<Uint8Array>(c.max, (v) => v.byteLength);
      for (const op of c.ops) {
        if (op[0] === 'set') lru.set(op[1], new Uint8Array(op[2]));
        else lru.get(op[1]);
      }
      for (const k of ['a', 'b', 'c', 'd', 'big']) assert.equal(lru.get(k) !== undefined, c.keys.includes(k), `key ${k}`);
      assert.equal(lru.bytes, c.bytes);
      assert.equal(lru.count, c.keys.length);
    });
  }

  test('rejects a bad bound', () => {
    assert.throws(() => new ByteLru(-1, () => 0), /maxBytes/);
  });
});
