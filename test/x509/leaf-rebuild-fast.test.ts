// The read path's shortcut (rebuildLeafFast: a DER walk, one buffer) must give exactly
// what the frozen version 1 gives, on generated chains (direct and through a PSC, with and
// without an AKI) and on the 1,024 real precertificates of the navigli2025h2 tiles; and it
// must never be taken for another version.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { issue, type Issuer } from '../../src/cli/cert-factory.js';
import { decodeDataTile } from '../../src/tls/index.js';
import { hex } from '../../src/util/bytes.js';
import {
  LEAF_REBUILDERS, parseCertificate, precertTbsV1, rebuildLeaf, rebuildLeafFast,
  type LeafRebuilders, type ParsedCert, type StoredLeaf,
} from '../../src/x509/index.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const root = issue(undefined as unknown as Issuer, { cn: 'fast root', ca: true, notBefore: NOW - 86400_000, notAfter: NOW + 365 * 86400_000 });
const intermediate = issue(root, { cn: 'fast intermediate', ca: true, notBefore: NOW - 86400_000, notAfter: NOW + 365 * 86400_000 });
const psc = issue(intermediate, { cn: 'fast PSC', ca: true, psc: true, notBefore: NOW - 86400_000, notAfter: NOW + 365 * 86400_000 });

function same(e: StoredLeaf, chain: ParsedCert[], r: LeafRebuilders = LEAF_REBUILDERS): void {
  const slow = rebuildLeaf(e, chain, r);
  const fast = rebuildLeafFast(e, chain, r);
  assert.ok(fast, 'the shortcut applies');
  assert.equal(hex(fast.leaf), hex(slow.leaf));
  assert.equal(hex(fast.hash), hex(slow.hash));
  const flat = (te: typeof slow.te) => JSON.stringify({ ...te, extensions: hex(te.extensions), entry: Object.fromEntries(Object.entries(te.entry).map(([k, v]) => [k, typeof v === 'string' ? v : hex(v)])) });
  assert.equal(flat(fast.te), flat(slow.te));
}

describe('rebuildLeafFast', () => {
  test('an x509 entry: the same leaf and hash, at large indexes and timestamps too', () => {
    const cert = new Uint8Array(1500).map((_, i) => i % 251);
    for (const [idx, timestamp] of [[0, NOW], [2 ** 40 - 1, 2 ** 53 - 1], [123_456_789, 1]] as const) {
      same({ idx, timestamp, entryType: 0, cert, rebuild: 1 }, []);
    }
  });

  test('precertificates issued directly and through a PSC: the same as version 1', () => {
    const direct = issue(intermediate, { cn: 'a.example', precert: true, notBefore: NOW, notAfter: NOW + 86400_000 });
    same({ idx: 7, timestamp: NOW, entryType: 1, cert: direct.der, rebuild: 1 }, [parseCertificate(intermediate.der)]);
    const viaPsc = issue(psc, { cn: 'b.example', precert: true, notBefore: NOW, notAfter: NOW + 86400_000 });
    const parsed = parseCertificate(viaPsc.der);
    assert.ok(parsed.extensions.some((x) => x.oid === '2.5.29.35'), 'the precert has an AKI, replaced by the PSC\'s');
    same({ idx: 8, timestamp: NOW, entryType: 1, cert: viaPsc.der, rebuild: 1 }, [parseCertificate(psc.der), parseCertificate(intermediate.der)]);
  });

  test('no shortcut where version 1 would refuse, nor for any version but the frozen precertTbsV1', () => {
    const viaPsc = issue(psc, { cn: 'c.example', precert: true, notBefore: NOW, notAfter: NOW + 86400_000 });
    const e: StoredLeaf = { idx: 1, timestamp: NOW, entryType: 1, cert: viaPsc.der, rebuild: 1 };
    assert.equal(rebuildLeafFast(e, [parseCertificate(psc.der)]), undefined, 'a PSC without the CA after it');
    const cert = issue(intermediate, { cn: 'd.example', notBefore: NOW, notAfter: NOW + 86400_000 });
    assert.equal(rebuildLeafFast({ ...e, cert: cert.der }, [parseCertificate(intermediate.der)]), undefined, 'no poison');
    assert.equal(rebuildLeafFast({ ...e, cert: cert.der.subarray(0, 100) }, [parseCertificate(intermediate.der)]), undefined, 'truncated');
    const wrapped: LeafRebuilders = { current: 2, precert: new Map([[1, precertTbsV1], [2, (p, i, f) => precertTbsV1(p, i, f)]]) };
    const direct = issue(intermediate, { cn: 'e.example', precert: true, notBefore: NOW, notAfter: NOW + 86400_000 });
    const chain = [parseCertificate(intermediate.der)];
    assert.equal(rebuildLeafFast({ ...e, cert: direct.der, rebuild: 2 }, chain, wrapped), undefined, 'another version');
    same({ ...e, cert: direct.der, rebuild: 1 }, chain, wrapped);
  });

  test('the 1,024 real precertificates of navigli2025h2: the TBSCertificate Sunlight logged', () => {
    const dir = join(import.meta.dirname, '../fixtures/static-ct/navigli2025h2/tile/data');
    // The issuers are not in the fixtures: any non-PSC issuer gives the same TBS (only the
    // issuer_key_hash comes from it), so the TBS is compared with the logged one.
    const issuer = parseCertificate(intermediate.der);
    let n = 0;
    for (const f of ['000', '001', '002', '003']) {
      decodeDataTile(new Uint8Array(readFileSync(join(dir, f)))).forEach((l, i) => {
        if (l.entry.entry.type !== 'precert') throw new Error('navigli tiles hold precerts');
        const e: StoredLeaf = { idx: n, timestamp: l.entry.timestamp, entryType: 1, cert: l.preCertificate!, rebuild: 1 };
        const fast = rebuildLeafFast(e, [issuer]);
        assert.ok(fast, `${f}[${i}]`);
        const tbs = (fast.te.entry as { tbsCertificate: Uint8Array }).tbsCertificate;
        assert.equal(hex(tbs), hex(l.entry.entry.tbsCertificate), `${f}[${i}]: the logged TBS`);
        same(e, [issuer]);
        n++;
      });
    }
    assert.equal(n, 1024);
  });
});
