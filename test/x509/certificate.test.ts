// parseCertificate against two independent parsers (@peculiar/x509 and node's
// X509Certificate) on every fixture certificate, plus malformed-input probes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { CtError } from '../../src/util/errors.js';
import { parseCertificate, parseTimeTlv, tbsLayout, readTlv, decodeOid, encodeTlv, DerError } from '../../src/x509/index.js';
import { FIXTURES, fixture, pemCerts, x509 } from './helpers.js';

const hex = (b: Uint8Array | ArrayBuffer) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString('hex');

const all: Array<{ name: string; der: Uint8Array }> = [];
for (const f of readdirSync(FIXTURES).sort()) {
  if (f.endsWith('.der')) all.push({ name: f, der: fixture(f) });
  else if (/\.(pem|cert|chain)$/.test(f)) pemCerts(f).forEach((der, i) => all.push({ name: `${f}#${i}`, der }));
}

describe('parseCertificate agrees with @peculiar/x509 and node:crypto X509Certificate', () => {
  test('fixtures were found', () => assert.ok(all.length >= 40, `only ${all.length} certificates`));
  for (const { name, der } of all) {
    test(name, () => {
      const c = parseCertificate(der, name);
      const p = new x509.X509Certificate(new Uint8Array(der));
      const n = new X509Certificate(der);

      assert.equal(hex(c.fingerprint), createHash('sha256').update(der).digest('hex'));
      assert.equal(hex(c.fingerprint), n.fingerprint256.replace(/:/g, '').toLowerCase());
      // Serial: we keep the INTEGER contents (sign octet included); both parsers strip it.
      assert.equal(BigInt(`0x${hex(c.serial)}`), BigInt(`0x${p.serialNumber}`));
      assert.equal(BigInt(`0x${hex(c.serial)}`), BigInt(`0x${n.serialNumber}`));
      assert.equal(hex(c.issuer), hex(p.issuerName.toArrayBuffer()));
      assert.equal(hex(c.subject), hex(p.subjectName.toArrayBuffer()));
      assert.equal(hex(c.spki), hex(p.publicKey.rawData));
      assert.equal(c.notBefore, p.notBefore.getTime());
      assert.equal(c.notAfter, p.notAfter.getTime());
      assert.equal(c.notAfter, Date.parse(n.validTo));
      assert.equal(hex(c.signature), hex(p.signature));
      assert.equal(c.isCA, n.ca);
      // The TBS is the signed part: the outer SEQUENCE minus signatureAlgorithm and signature.
      assert.equal(c.tbs.byteOffset - der.byteOffset, readTlv(der, 0).valueStart);
      assert.deepEqual(tbsLayout(c.tbs).issuer && c.tbs.subarray(tbsLayout(c.tbs).issuer.start, tbsLayout(c.tbs).issuer.end), c.issuer);

      assert.deepEqual(
        c.extensions.map((e) => ({ oid: e.oid, critical: e.critical, value: hex(e.value), tlv: hex(e.tlv) })),
        [...p.extensions].map((e) => ({ oid: e.type, critical: e.critical, value: hex(e.value), tlv: hex(e.rawData) })),
      );
      const eku = p.getExtension(x509.ExtendedKeyUsageExtension);
      assert.deepEqual(c.extKeyUsage, eku ? Array.from(eku.usages, String) : undefined);
      if (n.keyUsage !== undefined && eku) assert.deepEqual(c.extKeyUsage, [...n.keyUsage]);
      const ski = p.getExtension(x509.SubjectKeyIdentifierExtension);
      assert.equal(c.subjectKeyId && hex(c.subjectKeyId), ski ? ski.keyId.toLowerCase() : undefined);
      const aki = p.getExtension(x509.AuthorityKeyIdentifierExtension);
      assert.equal(c.authorityKeyId && hex(c.authorityKeyId), aki?.keyId?.toLowerCase());
      // node imports the SPKI we sliced out and exports the same bytes.
      if (!name.includes('md2') && !name.includes('no-bc-ca')) {
        assert.equal(hex(createPublicKey({ key: Buffer.from(c.spki), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' })), hex(c.spki));
      }
    });
  }
});

describe('malformed certificates are rejected with a 400 naming the certificate', () => {
  const good = pemCerts('ctcpp-test-cert.pem')[0]!;
  const c = parseCertificate(good);
  const tbsStart = c.tbs.byteOffset - good.byteOffset;
  const rows: Array<{ name: string; der: Uint8Array; message: RegExp }> = [
    { name: 'empty input', der: new Uint8Array(0), message: /^chain\[3\]: not a DER certificate: truncated/ },
    { name: 'garbage', der: new TextEncoder().encode('not a certificate at all'), message: /^chain\[3\]: not a DER certificate: Certificate: expected tag 0x30/ },
    { name: 'PEM text instead of DER', der: new TextEncoder().encode('-----BEGIN CERTIFICATE-----'), message: /expected tag 0x30/ },
    { name: 'truncated by one byte', der: good.subarray(0, good.length - 1), message: /truncated/ },
    { name: 'truncated to the header', der: good.subarray(0, 4), message: /truncated/ },
    { name: 'trailing bytes', der: new Uint8Array([...good, 0, 0]), message: /2 trailing bytes after the certificate/ },
    { name: 'indefinite length', der: new Uint8Array([0x30, 0x80, ...good.subarray(4), 0, 0]), message: /indefinite length/ },
    { name: 'non-minimal length', der: new Uint8Array([0x30, 0x83, 0x00, good[2]!, good[3]!, ...good.subarray(4)]), message: /non-minimal length/ },
    { name: 'length longer than the input', der: new Uint8Array([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, ...good.subarray(4)]), message: /truncated/ },
    { name: 'five-octet length', der: new Uint8Array([0x30, 0x85, 0, 0, 0, 1, 0]), message: /too long/ },
    { name: 'TBS signature algorithm differs from the outer one', der: swapOuterAlg(good), message: /differs from the outer signatureAlgorithm/ },
    { name: 'duplicate extension', der: duplicateLastExtension(good), message: /duplicate extension 2\.5\.29\.19/ },
  ];
  for (const r of rows) {
    test(r.name, () => {
      assert.throws(() => parseCertificate(r.der, 'chain[3]'), (e: unknown) => {
        assert.ok(e instanceof CtError);
        assert.equal(e.status, 400);
        assert.equal(e.reason, 'bad_certificate');
        assert.match(e.message, /^chain\[3\]: not a DER certificate: /);
        assert.match(e.message, r.message);
        return true;
      });
    });
  }

  test('every truncation of a real certificate is rejected, never crashes', () => {
    for (let i = 0; i < good.length; i++) assert.throws(() => parseCertificate(good.subarray(0, i)), CtError);
    assert.equal(tbsStart, 4);
  });

  test('single-byte corruptions either parse or fail with a CtError', () => {
    for (let i = 0; i < good.length; i++) {
      const bad = new Uint8Array(good);
      bad[i] = bad[i]! ^ 0xff;
      try {
        parseCertificate(bad);
      } catch (e) {
        assert.ok(e instanceof CtError, `offset ${i}: ${String(e)}`);
      }
    }
  });
});

describe('DER leniency that real CAs need (Go crypto/x509 accepts these too)', () => {
  const good = pemCerts('ctcpp-test-cert.pem')[0]!;
  const rows: Array<{ name: string; critical: Uint8Array; ok: boolean }> = [
    // X.690 §11.5 says a DEFAULT value is omitted, but CAs have issued certificates with
    // critical FALSE spelled out; the log must take them (the extension bytes are kept as is).
    { name: 'explicit critical FALSE is accepted as non-critical', critical: Uint8Array.of(0x01, 0x01, 0x00), ok: true },
    { name: 'explicit critical TRUE (0xff) is accepted', critical: Uint8Array.of(0x01, 0x01, 0xff), ok: true },
    { name: 'BER TRUE (0x01) is refused', critical: Uint8Array.of(0x01, 0x01, 0x01), ok: false },
    { name: 'two-byte BOOLEAN is refused', critical: Uint8Array.of(0x01, 0x02, 0x00, 0x00), ok: false },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const der = withCriticalField(good, r.critical);
      if (!r.ok) return assert.throws(() => parseCertificate(der), /bad critical BOOLEAN/);
      const c = parseCertificate(der);
      const last = c.extensions.at(-1)!;
      assert.equal(last.critical, r.critical[2] === 0xff);
      assert.equal(hex(last.tlv.subarray(last.tlv.length - last.value.length - 2 - r.critical.length, last.tlv.length - last.value.length - 2)), hex(r.critical));
      // @peculiar/x509 reads the same flag.
      assert.equal([...new x509.X509Certificate(new Uint8Array(der)).extensions].at(-1)!.critical, last.critical);
    });
  }
});

describe('DER primitives', () => {
  test('decodeOid: short, multi-byte and huge arcs', () => {
    const rows: Array<[string, string]> = [
      ['2a864886f70d01010b', '1.2.840.113549.1.1.11'],
      ['2b06010401d679020403', '1.3.6.1.4.1.11129.2.4.3'],
      ['551d13', '2.5.29.19'],
      ['0603', '0.6.3'],
      ['8837', '2.999'],
      // 2.25.<128-bit UUID>: beyond 2^53, decoded exactly.
      ['6983f09da7ebcfdee0c7a1a7b2c0948cc8f9d776', '2.25.329800735698586629295641978511506172918'],
    ];
    for (const [h, want] of rows) assert.equal(decodeOid(Buffer.from(h, 'hex')), want, h);
    assert.throws(() => decodeOid(Buffer.from('2a86', 'hex')), DerError);
    assert.throws(() => decodeOid(Buffer.from('2a8001', 'hex')), DerError);
    assert.throws(() => decodeOid(new Uint8Array(0)), DerError);
  });

  test('encodeTlv uses minimal lengths at each boundary', () => {
    for (const [n, head] of [[0, '3000'], [127, '307f'], [128, '308180'], [255, '3081ff'], [256, '30820100'], [65536, '3083010000']] as const) {
      const t = encodeTlv(0x30, new Uint8Array(n));
      assert.equal(hex(t.subarray(0, head.length / 2)), head);
      const r = readTlv(t, 0);
      assert.equal(r.end - r.valueStart, n);
      assert.equal(r.end, t.length);
    }
  });

  test('times: UTCTime pivot, GeneralizedTime, calendar and format errors', () => {
    const tlv = (tag: number, s: string) => encodeTlv(tag, new TextEncoder().encode(s));
    const ok: Array<[number, string, string]> = [
      [0x17, '491231235959Z', '2049-12-31T23:59:59.000Z'],
      [0x17, '500101000000Z', '1950-01-01T00:00:00.000Z'],
      [0x17, '240229120000Z', '2024-02-29T12:00:00.000Z'],
      [0x18, '20500101000000Z', '2050-01-01T00:00:00.000Z'],
      [0x18, '99991231235959Z', '9999-12-31T23:59:59.000Z'],
      [0x18, '20000229000000Z', '2000-02-29T00:00:00.000Z'],
    ];
    for (const [tag, s, want] of ok) assert.equal(new Date(parseTimeTlv(tlv(tag, s))).toISOString(), want, s);
    const bad: Array<[number, string]> = [
      [0x17, '250229000000Z'], [0x17, '251301000000Z'], [0x17, '250100000000Z'], [0x17, '250101240000Z'],
      [0x17, '2501010000Z'], [0x17, '250101000000'], [0x17, '250101000000+0100'], [0x17, '2a0101000000Z'],
      [0x18, '20250101000000.5Z'], [0x18, '19000229000000Z'], [0x18, '00500101000000Z'], [0x13, '250101000000Z'],
    ];
    for (const [tag, s] of bad) assert.throws(() => parseTimeTlv(tlv(tag, s)), DerError, s);
  });

  test('high tag numbers are refused', () => {
    assert.throws(() => readTlv(Uint8Array.of(0x1f, 0x81, 0x00), 0), /high tag/);
  });
});

// Replaces the outer signatureAlgorithm (sha1WithRSA, ...05) with sha256WithRSA (...0b).
function swapOuterAlg(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(der);
  const c = parseCertificate(der);
  const algStart = c.tbs.byteOffset - der.byteOffset + c.tbs.length;
  const oid = readTlv(out, readTlv(out, algStart).valueStart);
  out[oid.end - 1] = 0x0b;
  return out;
}

// Appends a copy of the last extension (basicConstraints in test-cert) and fixes the lengths.
function duplicateLastExtension(der: Uint8Array): Uint8Array {
  const c = parseCertificate(der);
  const last = c.extensions.at(-1)!;
  const layout = tbsLayout(c.tbs);
  const w = layout.extensions!;
  const seq = readTlv(c.tbs, w.valueStart);
  const exts = c.tbs.subarray(seq.valueStart, seq.end);
  const tbs = encodeTlv(0x30, c.tbs.subarray(readTlv(c.tbs, 0).valueStart, w.start), encodeTlv(0xa3, encodeTlv(0x30, exts, last.tlv)));
  const rest = der.subarray(c.tbs.byteOffset - der.byteOffset + c.tbs.length);
  return encodeTlv(0x30, tbs, rest);
}

// Rewrites the last extension (basicConstraints in test-cert, non-critical) with `critical`
// between extnID and extnValue, and fixes the lengths.
function withCriticalField(der: Uint8Array, critical: Uint8Array): Uint8Array {
  const c = parseCertificate(der);
  const last = c.extensions.at(-1)!;
  const layout = tbsLayout(c.tbs);
  const w = layout.extensions!;
  const seq = readTlv(c.tbs, w.valueStart);
  const lastStart = last.tlv.byteOffset - c.tbs.byteOffset;
  const before = c.tbs.subarray(seq.valueStart, lastStart);
  const ext = readTlv(last.tlv, 0);
  const oid = readTlv(last.tlv, ext.valueStart);
  const rebuilt = encodeTlv(0x30, last.tlv.subarray(oid.start, oid.end), critical, encodeTlv(0x04, last.value));
  const tbs = encodeTlv(0x30, c.tbs.subarray(readTlv(c.tbs, 0).valueStart, w.start), encodeTlv(0xa3, encodeTlv(0x30, before, rebuilt)));
  const rest = der.subarray(c.tbs.byteOffset - der.byteOffset + c.tbs.length);
  return encodeTlv(0x30, tbs, rest);
}
