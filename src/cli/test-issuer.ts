// Test certificates for `ctlog monitor`'s canaries and `ctlog load`: certificates,
// precertificates and precertificates through a Precertificate Signing Certificate, issued
// under a configured test CA (or the repository's demo root, NOT TRUSTED) by cert-factory,
// each with the signed_entry the log must sign, so an SCT can be verified and its leaf hash
// looked up with get-proof-by-hash.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { leafHash } from '../merkle/index.js';
import { verifySct } from '../signing/index.js';
import { encodeMerkleTreeLeaf, type Sct, type SignedEntry } from '../tls/index.js';
import { PublicKeyCache, RootStore, validateChain } from '../x509/index.js';
import { issue, loadIssuer, makeIntermediate, type Issuer } from './cert-factory.js';

export type TestCertKind = 'x509' | 'precert' | 'psc';

export interface TestCert {
  /** The endpoint's kind: 'precert' for add-pre-chain (with or without a PSC). */
  kind: 'x509' | 'precert';
  chain: Uint8Array[];
  /** The signed_entry the log must sign (computed on first use). */
  readonly entry: SignedEntry;
}

/** demo/ at the top of the checkout or image (above src/cli, or above dist/src/cli). */
export function demoCaFiles(): { cert: string; key: string } {
  for (let d = import.meta.dirname; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, 'demo', 'demo-root.pem'))) return { cert: join(d, 'demo', 'demo-root.pem'), key: join(d, 'demo', 'demo-root-key.pem') };
  }
  throw new Error(`demo/demo-root.pem not found above ${import.meta.dirname}; give the test CA with --ca-cert and --ca-key`);
}

const PEM_RE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

export class TestIssuer {
  private readonly roots: RootStore;
  private readonly keys = new PublicKeyCache();
  private readonly caChain: Uint8Array[];
  private readonly intermediate: Issuer;
  private readonly psc: Issuer;
  /** One subject key for every leaf: key generation would cost more than the rest. */
  private readonly leafKey: KeyObject;

  /**
   * `certPem`: the test CA's certificate, optionally followed by its own issuers up to the
   * root the log accepts; `keyPem`: the CA's PKCS#8 private key. Leaves are issued under an
   * intermediate made at start (as CAs do), so the CA may be a root or an intermediate.
   */
  constructor(certPem: string, keyPem: string, now: number) {
    const ca = loadIssuer(certPem, keyPem);
    const pems = [...certPem.matchAll(PEM_RE)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
    this.caChain = pems;
    this.roots = RootStore.fromCerts([pems[pems.length - 1]!]);
    this.intermediate = makeIntermediate(ca, now);
    this.psc = issue(this.intermediate, { cn: 'ctlog test Precertificate Signing', ca: true, psc: true, notBefore: now - 86400_000, notAfter: now + 5 * 365 * 86400_000 });
    this.leafKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  }

  static fromFiles(certFile: string, keyFile: string, now: number): TestIssuer {
    return new TestIssuer(readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8'), now);
  }

  /** A fresh certificate of `kind` valid [notBefore, notAfter], as add-chain / add-pre-chain take it. */
  make(kind: TestCertKind, notBefore: number, notAfter: number, now: number): TestCert {
    const cn = `${randomBytes(8).toString('hex')}.test.example`;
    const issuerKeys = this.keys;
    const parent = kind === 'psc' ? this.psc : this.intermediate;
    const leaf = issue(parent, { cn, notBefore, notAfter, precert: kind !== 'x509', publicKey: this.leafKey });
    const chain = kind === 'psc' ? [leaf.der, this.psc.der, this.intermediate.der, ...this.caChain] : [leaf.der, this.intermediate.der, ...this.caChain];
    const endpoint = kind === 'x509' ? 'x509' : 'precert';
    let entry: SignedEntry | undefined;
    const policy = { roots: this.roots, notAfterStart: 0, notAfterLimit: Date.parse('9999-01-01T00:00:00Z'), now };
    // The chain is ours, so validating it only computes the signed_entry the log must have
    // signed; lazily, since a load generator needs it for the few SCTs it checks.
    return {
      kind: endpoint,
      chain,
      get entry() {
        return (entry ??= validateChain(endpoint, chain, policy, issuerKeys).entry);
      },
    };
  }

  /** RFC 6962 §3.2: the SCT is the log's (logKey) signature over this certificate's entry. */
  static sctValid(logKey: Uint8Array, sct: Sct, cert: TestCert): boolean {
    return verifySct(logKey, sct, cert.entry);
  }

  /** The leaf hash the log must include for this SCT (§3.4 MerkleTreeLeaf). */
  static leafHash(sct: Sct, cert: TestCert): Uint8Array {
    return leafHash(encodeMerkleTreeLeaf({ timestamp: sct.timestamp, entry: cert.entry, extensions: sct.extensions }));
  }
}
