// tlog-tiles paths: encoding, parsing, round trips and rejections (C2SP tlog-tiles).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CtError } from '../../src/util/errors.js';
import { dataTilePath, parseTilePath, tileKey, tilePath } from '../../src/merkle/index.js';

describe('tilePath', () => {
  const cases: Array<[string, { level: number; index: number; width: number }, string]> = [
    ['index 0', { level: 0, index: 0, width: 256 }, 'tile/0/000'],
    ['spec example 1234067', { level: 0, index: 1234067, width: 256 }, 'tile/0/x001/x234/067'],
    ['partial width 1', { level: 2, index: 5, width: 1 }, 'tile/2/005.p/1'],
    ['partial width 255', { level: 1, index: 999, width: 255 }, 'tile/1/999.p/255'],
    ['index 1000', { level: 0, index: 1000, width: 256 }, 'tile/0/x001/000'],
    ['index 2^32', { level: 0, index: 2 ** 32, width: 10 }, 'tile/0/x004/x294/x967/296.p/10'],
    ['max safe index', { level: 63, index: Number.MAX_SAFE_INTEGER, width: 256 }, 'tile/63/x009/x007/x199/x254/x740/991'],
  ];
  for (const [name, t, want] of cases) {
    test(name, () => {
      assert.equal(tilePath(t), want);
      assert.deepEqual(parseTilePath(want), t);
    });
  }
  test('data tiles', () => {
    assert.equal(dataTilePath(3, 10), 'tile/data/003.p/10');
    assert.equal(dataTilePath(1234067, 256), 'tile/data/x001/x234/067');
    assert.deepEqual(parseTilePath('tile/data/x001/x234/067'), { level: 'data', index: 1234067, width: 256 });
    assert.deepEqual(parseTilePath('tile/data/003.p/10'), { level: 'data', index: 3, width: 10 });
  });
  test('tileKey', () => assert.equal(tileKey(3, 12), '3/12'));
  test('invalid ids are refused', () => {
    for (const t of [
      { level: -1, index: 0, width: 256 }, { level: 64, index: 0, width: 256 }, { level: 0.5, index: 0, width: 256 },
      { level: 0, index: -1, width: 256 }, { level: 0, index: 2 ** 53, width: 256 }, { level: 0, index: 1.5, width: 256 },
      { level: 0, index: 0, width: 0 }, { level: 0, index: 0, width: 257 },
    ]) assert.throws(() => tilePath(t), RangeError, JSON.stringify(t));
    assert.throws(() => dataTilePath(0, 0), RangeError);
  });
  test('round trip of many indexes and widths', () => {
    for (let i = 0; i < 3000; i += 7) {
      for (const width of [1, 100, 255, 256]) {
        for (const level of [0, 1, 5]) {
          const t = { level, index: i * 1001, width };
          assert.deepEqual(parseTilePath(tilePath(t)), t);
        }
      }
    }
  });
});

describe('parseTilePath rejections', () => {
  const bad: Array<[string, string]> = [
    ['empty', ''],
    ['no tile prefix', '0/000'],
    ['leading slash', '/tile/0/000'],
    ['missing index', 'tile/0'],
    ['missing index after level', 'tile/0/'],
    ['level leading zero', 'tile/00/000'],
    ['level 64', 'tile/64/000'],
    ['level negative', 'tile/-1/000'],
    ['level not a number', 'tile/a/000'],
    ['unknown kind', 'tile/entries/000'],
    ['two-digit group', 'tile/0/00'],
    ['four-digit group', 'tile/0/0000'],
    ['x on the last group', 'tile/0/x000'],
    ['no x on an inner group', 'tile/0/001/234'],
    ['leading x000 group', 'tile/0/x000/001'],
    ['capital X', 'tile/0/X001/234'],
    ['non-digit', 'tile/0/0a1'],
    ['plus sign', 'tile/0/+01'],
    ['.p without width', 'tile/0/000.p'],
    ['.p with empty width', 'tile/0/000.p/'],
    ['width 0', 'tile/0/000.p/0'],
    ['width 256', 'tile/0/000.p/256'],
    ['width 1000', 'tile/0/000.p/1000'],
    ['width leading zero', 'tile/0/000.p/010'],
    ['width not a number', 'tile/0/000.p/ab'],
    ['extra element after width', 'tile/0/000.p/10/x'],
    ['extra element after index', 'tile/0/000/extra'],
    ['trailing slash', 'tile/0/000/'],
    ['.p on an inner group', 'tile/0/x001.p/000'],
    ['other suffix', 'tile/0/000.q/10'],
    ['index too large', 'tile/0/x009/x007/x199/x254/x740/992'],
    ['seven groups', 'tile/0/x001/x000/x000/x000/x000/x000/000'],
    ['whitespace', 'tile/0/000 '],
    ['dot dot', 'tile/../000'],
  ];
  for (const [name, path] of bad) {
    test(name, () => {
      assert.throws(() => parseTilePath(path), (e: unknown) => e instanceof CtError && e.status === 400 && e.reason === 'bad_tile_path');
    });
  }
});
