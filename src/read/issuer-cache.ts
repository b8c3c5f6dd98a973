// Chain certificates by SHA-256 fingerprint, parsed once and kept in memory: every
// get-entries page needs the DER of each entry's chain (extra_data), and every precert
// leaf is rebuilt from its issuers' subject and key (RFC 6962 §3.2). There are few issuers
// and they never change, so a page costs at most one query for the ones not yet seen.
import { hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import { parseCertificate, type ParsedCert } from '../x509/index.js';
import type { ShardStore } from './shard-store.js';
import { ByteLru } from './byte-lru.js';

/** An issuer as the read path uses it: the DER as stored, parsed lazily. */
export class IssuerCert {
  #parsed: ParsedCert | undefined;
  constructor(
    readonly fingerprint: string,
    readonly der: Uint8Array,
  ) {}

  /** Parsed on first use (only precert leaves need it). Throws CtError 500 for a corrupt row. */
  get parsed(): ParsedCert {
    if (!this.#parsed) {
      try {
        this.#parsed = parseCertificate(this.der, `issuer ${this.fingerprint}`);
      } catch (err) {
        throw new CtError(500, 'corrupt_issuer', `couldn't parse stored issuer ${this.fingerprint}`, { cause: err });
      }
    }
    return this.#parsed;
  }
}

/** Issuer certificates by lowercase hex fingerprint, bounded by DER bytes. */
export class IssuerCache {
  readonly #lru: ByteLru<IssuerCert>;

  constructor(
    private readonly storage: ShardStore,
    maxBytes: number,
  ) {
    // A parsed certificate holds views into its DER; count the DER twice for the parse.
    this.#lru = new ByteLru(maxBytes, (c) => 2 * c.der.byteLength + 200);
  }

  /**
   * Every issuer with one of these fingerprints, loading the missing ones in one query.
   * Fingerprints that are not stored are absent from the result; callers decide whether
   * that is a 404 (issuer endpoint) or a broken invariant (an entry citing it).
   */
  async getMany(fingerprints: Iterable<Uint8Array>): Promise<Map<string, IssuerCert>> {
    const out = new Map<string, IssuerCert>();
    const missing = new Map<string, Uint8Array>();
    for (const f of fingerprints) {
      const k = hex(f);
      if (out.has(k) || missing.has(k)) continue;
      const c = this.#lru.get(k);
      if (c) out.set(k, c);
      else missing.set(k, f);
    }
    if (missing.size > 0) {
      const rows = await this.storage.readIssuers([...missing.values()]);
      for (const [k, der] of rows) {
        const c = new IssuerCert(k, new Uint8Array(der.buffer, der.byteOffset, der.byteLength));
        this.#lru.set(k, c);
        out.set(k, c);
      }
    }
    return out;
  }

  clear(): void {
    this.#lru.clear();
  }
}
