// The accepted roots of a shard, indexed by subject Name (to find the issuer of a chain
// whose root the submitter omitted) and by SHA-256 fingerprint (to recognise a root).
import { hex } from '../util/bytes.js';
import { parseCertificate, type ParsedCert } from './certificate.js';

const PEM_RE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/** Immutable set of root certificates. Duplicates (same fingerprint) are kept once. */
export class RootStore {
  /** The roots in input order, duplicates dropped: what get-roots serves. */
  readonly certs: ParsedCert[] = [];
  private readonly subjects = new Map<string, ParsedCert[]>();
  private readonly fingerprints = new Set<string>();

  private constructor(certs: ParsedCert[]) {
    for (const c of certs) {
      const fp = hex(c.fingerprint);
      if (this.fingerprints.has(fp)) continue;
      this.fingerprints.add(fp);
      this.certs.push(c);
      const k = key(c.subject);
      const list = this.subjects.get(k);
      if (list) list.push(c);
      else this.subjects.set(k, [c]);
    }
    Object.freeze(this.certs);
  }

  /**
   * Reads every CERTIFICATE block of a PEM bundle (text outside the blocks, such as
   * `openssl x509 -text` dumps, is ignored). Throws CtError naming "root[i]" for a bad
   * block; an empty bundle is an error since a log with no roots accepts nothing.
   */
  static fromPem(pemText: string): RootStore {
    const ders: Uint8Array[] = [];
    for (const m of pemText.matchAll(PEM_RE)) ders.push(new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
    if (ders.length === 0) throw new Error('no "-----BEGIN CERTIFICATE-----" block in the root bundle');
    return RootStore.fromCerts(ders);
  }

  /** Builds a store from DER certificates; throws CtError naming "root[i]" for a bad one. */
  static fromCerts(ders: Uint8Array[]): RootStore {
    return new RootStore(ders.map((d, i) => parseCertificate(d, `root[${i}]`)));
  }

  /** Roots whose subject Name equals `name` byte for byte. */
  bySubject(name: Uint8Array): ParsedCert[] {
    return this.subjects.get(key(name)) ?? [];
  }

  /** Whether the certificate with this SHA-256 fingerprint is an accepted root. */
  has(fingerprint: Uint8Array): boolean {
    return this.fingerprints.has(hex(fingerprint));
  }
}

function key(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
