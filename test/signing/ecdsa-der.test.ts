// Raw r‖s (what a PKCS#11 token's CKM_ECDSA returns) to DER Ecdsa-Sig-Value (RFC 3279
// §2.2.3, what RFC 6962 §2.1.4 puts in a DigitallySigned), checked against hand-written DER,
// against @noble/curves' encoder, and against real log signatures in the fixtures.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { p256, p384 } from '@noble/curves/nist.js';
import { ecdsaDerToRaw, ecdsaRawToDer } from '../../src/signing/index.js';
import { decodeDigitallySigned, decodeSct, SIG_ECDSA } from '../../src/tls/index.js';

const h = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const n32 = (s: string) => s.padStart(64, '0');

describe('ecdsaRawToDer: hand-written vectors (P-256, 32-byte r and s)', () => {
  const vectors: Array<[string, string, string, string]> = [
    // name, r, s, DER
    ['small values: leading zero bytes are dropped', n32('01'), n32('02'), '3006 020101 020102'],
    ['zero is one 00 byte', n32('00'), n32('7f'), '3006 020100 02017f'],
    ['a high bit gets a 00 so the INTEGER stays positive', n32('80'), n32('ff'), '3008 02020080 020200ff'],
    ['full-width r with its high bit set: 33-byte INTEGER', 'ff'.repeat(32), n32('01'), `3026 022100${'ff'.repeat(32)} 020101`],
    ['full-width r with its high bit clear: 32-byte INTEGER', '7f' + 'ff'.repeat(31), '80' + '00'.repeat(31), `3045 0220 7f${'ff'.repeat(31)} 022100 80${'00'.repeat(31)}`],
    ['a leading zero byte before a high bit: it is the one 00 the INTEGER needs', '00' + '80' + '11'.repeat(30), n32('05'), `3025 022000 80${'11'.repeat(30)} 020105`],
    ['both at their longest: 72 bytes, short-form lengths', 'ab'.repeat(32), 'cd'.repeat(32), `3046 022100${'ab'.repeat(32)} 022100${'cd'.repeat(32)}`],
  ];
  for (const [name, r, s, der] of vectors) {
    test(name, () => {
      assert.equal(hex(ecdsaRawToDer(h(r + s))), der.replace(/\s/g, ''));
      assert.equal(hex(ecdsaDerToRaw(h(der), 32)), r + s);
    });
  }

  test('P-384 (48-byte halves): 102 bytes, still the short form', () => {
    const r = 'ab'.repeat(48);
    const s = 'cd'.repeat(48);
    assert.equal(hex(ecdsaRawToDer(h(r + s))), `3066 023100${r} 023100${s}`.replace(/\s/g, ''));
  });

  test('P-521 (66-byte halves): a sequence over 127 bytes takes the long form 81 xx', () => {
    const r = '01' + 'ff'.repeat(65);
    const s = '01' + '00'.repeat(65);
    const der = `308188 0242${r} 0242${s}`.replace(/\s/g, '');
    assert.equal(hex(ecdsaRawToDer(h(r + s))), der);
    assert.equal(hex(ecdsaDerToRaw(h(der), 66)), r + s);
  });

  test('odd or empty input is refused', () => {
    assert.throws(() => ecdsaRawToDer(new Uint8Array(63)), /even, non-zero length/);
    assert.throws(() => ecdsaRawToDer(new Uint8Array(0)), /even, non-zero length/);
  });

  test('ecdsaDerToRaw refuses non-minimal, negative and trailing encodings', () => {
    assert.throws(() => ecdsaDerToRaw(h('3007 02020001 020101'), 32), /not minimal/);
    assert.throws(() => ecdsaDerToRaw(h('3006 020180 020101'), 32), /negative/);
    assert.throws(() => ecdsaDerToRaw(h('3006 020101 020101 00'), 32), /length does not match/);
  });
});

describe('ecdsaRawToDer agrees with @noble/curves', () => {
  const N = p256.Point.CURVE().n;
  const edge = [1n, 0x7fn, 0x80n, 0xffn, 0x100n, (1n << 247n) - 1n, 1n << 247n, (1n << 248n) + 5n, (1n << 255n) - 1n, 1n << 255n, N - 1n];
  test('edge values of r and s (every pair)', () => {
    for (const r of edge) {
      for (const s of edge) {
        const sig = new p256.Signature(r, s);
        assert.equal(hex(ecdsaRawToDer(sig.toBytes('compact'))), hex(sig.toBytes('der')), `r=${r.toString(16)} s=${s.toString(16)}`);
      }
    }
  });

  test('2000 real signatures, including those whose r or s has leading zero bytes or a high bit', () => {
    const sk = p256.utils.randomSecretKey();
    let short = 0;
    let high = 0;
    for (let i = 0; i < 2000; i++) {
      const raw = p256.sign(new TextEncoder().encode(`message ${i}`), sk, { format: 'compact', lowS: false });
      if (raw[0] === 0 || raw[32] === 0) short++;
      if (raw[0]! & 0x80 || raw[32]! & 0x80) high++;
      const der = ecdsaRawToDer(raw);
      assert.equal(hex(der), hex(p256.Signature.fromBytes(raw, 'compact').toBytes('der')));
      assert.equal(hex(ecdsaDerToRaw(der, 32)), hex(raw));
    }
    assert.ok(short > 0 && high > 0, `the sample has both cases (${short} short, ${high} high-bit)`);
  });

  test('P-384', () => {
    const sk = p384.utils.randomSecretKey();
    for (let i = 0; i < 200; i++) {
      const raw = p384.sign(new TextEncoder().encode(`m${i}`), sk, { format: 'compact', lowS: false });
      assert.equal(hex(ecdsaRawToDer(raw)), hex(p384.Signature.fromBytes(raw, 'compact').toBytes('der')));
    }
  });
});

describe('real ECDSA log signatures (ct-cpp test log SCTs in test/fixtures/signing) survive DER → raw → DER byte for byte', () => {
  const dir = join(import.meta.dirname, '../fixtures/signing');
  const files = readdirSync(dir).filter((f) => f.endsWith('.proof') && !f.includes('rsa'));
  for (const f of files) {
    test(f, () => {
      const ds = decodeDigitallySigned(decodeSct(new Uint8Array(readFileSync(join(dir, f)))).signature);
      assert.equal(ds.signatureAlgorithm, SIG_ECDSA);
      assert.equal(hex(ecdsaRawToDer(ecdsaDerToRaw(ds.signature, 32))), hex(ds.signature));
    });
  }
});
