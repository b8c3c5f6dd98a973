// get-entries pages join a precertificate's own base64 to its chain's, encoded once per
// chain at the byte offset the precertificate leaves it at: the joined text must be exactly
// the base64 of the PrecertChainEntry, whatever the certificate's length mod 3.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ChainText } from '../../src/read/entry-pages.js';
import { IssuerCert } from '../../src/read/issuer-cache.js';
import { encodePrecertChainEntry, encodeX509ChainEntry } from '../../src/tls/index.js';
import { b64 } from '../../src/util/bytes.js';

const text = (parts: Array<string | Buffer>) => parts.map((p) => (typeof p === 'string' ? p : p.toString('latin1'))).join('');

test('a precert entry\'s extra_data text is the base64 of its PrecertChainEntry at every length mod 3, for chains of 0 to 3 certificates', () => {
  for (let n = 0; n <= 3; n++) {
    const ders = Array.from({ length: n }, (_, i) => new Uint8Array(randomBytes(700 + 37 * i)));
    const chain = new ChainText(ders.map((d, i) => new IssuerCert(`f${i}`, d)));
    assert.equal(text([chain.vectorB64(0)]), b64(encodeX509ChainEntry(ders)), `x509 extra_data, ${n} certificates`);
    for (const length of [1000, 1001, 1002, 1, 2, 3]) {
      const cert = new Uint8Array(randomBytes(length));
      assert.equal(text(chain.precertB64(cert)), b64(encodePrecertChainEntry(cert, ders)), `${n} certificates, a precert of ${length} bytes`);
    }
  }
});
