import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeDigitallySigned, decodeSct, encodeDigitallySigned, encodeSct, sctFromJson, sctToJson, TlsError } from '../../src/tls/index.js';

const signing = join(import.meta.dirname, '../fixtures/signing');
const vectors = (JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/tls/ct-cpp/sct-vectors.json'), 'utf8')) as {
  vectors: Array<{ name: string; sct_file: string; sct_timestamp: number; sct_log_id_b64?: string }>;
}).vectors;

describe('binary SCTs from the ct-cpp test logs', () => {
  for (const v of vectors) {
    test(v.name, () => {
      const bin = new Uint8Array(readFileSync(join(signing, v.sct_file.replace(/^rsa\//, ''))));
      const sct = decodeSct(bin);
      assert.equal(sct.timestamp, v.sct_timestamp);
      if (v.sct_log_id_b64) assert.equal(Buffer.from(sct.logId).toString('base64'), v.sct_log_id_b64);
      assert.deepEqual(sct.extensions, new Uint8Array(0));
      const ds = decodeDigitallySigned(sct.signature);
      assert.equal(ds.hashAlgorithm, 4);
      assert.equal(ds.signatureAlgorithm, v.sct_file.startsWith('rsa/') ? 1 : 3);
      assert.deepEqual(encodeDigitallySigned(ds), sct.signature);
      assert.deepEqual(encodeSct(sct), bin);
      const json = sctToJson(sct);
      assert.deepEqual(Object.keys(json).sort(), ['extensions', 'id', 'sct_version', 'signature', 'timestamp']);
      assert.equal(json.extensions, '');
      assert.deepEqual(sctFromJson(JSON.parse(JSON.stringify(json))), sct);
    });
  }
});

describe('sctFromJson validation', () => {
  const good = {
    sct_version: 0,
    id: Buffer.alloc(32, 7).toString('base64'),
    timestamp: 1700000000000,
    extensions: 'AAAFAAAAAAE=',
    signature: Buffer.from(encodeDigitallySigned({ hashAlgorithm: 4, signatureAlgorithm: 3, signature: new Uint8Array([1, 2]) })).toString('base64'),
  };
  test('accepts a well-formed SCT and keeps the extensions', () => {
    const s = sctFromJson(good);
    assert.equal(s.timestamp, good.timestamp);
    assert.equal(Buffer.from(s.extensions).toString('base64'), good.extensions);
  });
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'x', /SCT JSON: not an object/],
    ['an array', [], /SCT JSON: not an object/],
    ['version 1', { ...good, sct_version: 1 }, /SCT JSON.sct_version: unsupported version 1/],
    ['missing version', { ...good, sct_version: undefined }, /SCT JSON.sct_version/],
    ['id of 31 bytes', { ...good, id: Buffer.alloc(31).toString('base64') }, /SCT JSON.id: length 31, want 32/],
    ['id not base64', { ...good, id: 'not base64!' }, /SCT JSON.id: not base64/],
    ['negative timestamp', { ...good, timestamp: -1 }, /SCT JSON.timestamp/],
    ['fractional timestamp', { ...good, timestamp: 1.5 }, /SCT JSON.timestamp/],
    ['string timestamp', { ...good, timestamp: '1' }, /SCT JSON.timestamp/],
    ['missing extensions', { ...good, extensions: undefined }, /SCT JSON.extensions: missing or not a string/],
    ['signature with trailing bytes', { ...good, signature: Buffer.from('0403000101ff', 'hex').toString('base64') }, /DigitallySigned: 1 trailing bytes/],
    ['signature truncated', { ...good, signature: Buffer.from('04030005', 'hex').toString('base64') }, /DigitallySigned.signature: length 5 exceeds the 0 bytes left/],
  ];
  for (const [name, input, want] of bad) {
    test(`rejects ${name}`, () => assert.throws(() => sctFromJson(input), (e: unknown) => e instanceof TlsError && want.test(e.message)));
  }
});
