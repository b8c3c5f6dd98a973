// The sequencer's guard between "a message that authenticated" and "a leaf it signs": every
// new entry's stored row must rebuild, through the same code the read path serves it with,
// to exactly the leaf that is signed (docs/OPERATIONS.md "Trust boundary"). Two checks:
//  - before indexes are assigned, per entry: the row's certificate and chain rebuild to the
//    submitted signed_entry, and the dedup identity is that entry's. An entry that fails is
//    refused alone (503; nothing logged, no SCT): a rolling deploy whose CTFE and sequencer
//    disagree on the rebuild is the likely cause, and one bad entry must not fail every
//    batch it is pooled into;
//  - after, per batch: each row rebuilds to the very leaf hash that goes into the tree. This
//    cannot fail unless encoding itself is broken; the batch then fails and nothing commits.
//    The tree's leaf hash of an accepted entry is computed here (leafHash()), by the read
//    path's leafOf from the signed_entry its row rebuilt to, which refusal() showed byte-equal
//    to the signed one: the row's leaf is then the tree's by construction, and verify() knows
//    that hash object and need not hash the same bytes a second time.
import type { Issuer, Submission } from '../queue/submission.js';
import type { EntryRecord, LogStorage } from '../storage/log-storage.js';
import { equal, hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import type { SignedEntry } from '../tls/index.js';
import { LEAF_REBUILDERS, identityHash, leafOf, parseCertificate, rebuildSignedEntry, type LeafRebuilders, type ParsedCert } from '../x509/index.js';

export interface LeafCheckOptions {
  /** The rebuild code; tests inject other versions. @defaultValue LEAF_REBUILDERS */
  rebuilders?: LeafRebuilders;
  /**
   * Parsed issuers kept in memory; issuers beyond this many are read from the database when a
   * batch needs them. A log has a few thousand issuers. @defaultValue 20000
   */
  maxIssuers?: number;
}

export class LeafCheck {
  private readonly parsed = new Map<string, ParsedCert>();
  /**
   * signed_entry rebuilt from each accepted row by refusal(), by the submission's identity
   * (the object, not its bytes: no hex per entry, and a row whose identity is another object
   * is simply rebuilt again), for leafHash() and verify() of the same attempt.
   */
  private readonly rebuiltRows = new Map<Uint8Array, SignedEntry>();
  /** Leaf hashes leafHash() computed from rebuiltRows this attempt, by identity object. */
  private readonly hashed = new Map<Uint8Array, { idx: number; timestamp: number; hash: Uint8Array }>();
  private readonly rebuilders: LeafRebuilders;
  private readonly maxIssuers: number;

  constructor(
    private readonly storage: LogStorage,
    opts: LeafCheckOptions = {},
  ) {
    this.rebuilders = opts.rebuilders ?? LEAF_REBUILDERS;
    this.maxIssuers = opts.maxIssuers ?? 20_000;
  }

  /** The rebuild version new entries are logged with. */
  get version(): number {
    return this.rebuilders.current;
  }

  /** Parses and keeps the chain certificates of a queue message (each once). */
  learn(issuers: readonly Issuer[]): void {
    for (const i of issuers) {
      if (this.parsed.size >= this.maxIssuers) return;
      const k = hex(i.fingerprint);
      if (this.parsed.has(k)) continue;
      const p = tryParse(i.der);
      // An issuer is keyed by its own fingerprint, never by what the message says it is.
      if (p && equal(p.fingerprint, i.fingerprint)) this.parsed.set(k, p);
    }
  }

  /** Every chain certificate the precert submissions cite, parsed; missing ones are read from the database. */
  async chains(subs: readonly Submission[]): Promise<Map<string, ParsedCert>> {
    this.rebuiltRows.clear(); // a new commit attempt
    this.hashed.clear();
    const out = new Map<string, ParsedCert>();
    const missing = new Map<string, Uint8Array>();
    for (const s of subs) {
      if (s.entry.type !== 'precert') continue;
      for (const f of s.chain.slice(0, 2)) {
        const k = hex(f);
        const p = this.parsed.get(k);
        if (p) out.set(k, p);
        else missing.set(k, f);
      }
    }
    if (missing.size) {
      const stored = await this.storage.readIssuers([...missing.values()]);
      for (const [k, der] of stored) {
        const p = tryParse(der);
        if (!p) continue;
        out.set(k, p);
        if (this.parsed.size < this.maxIssuers) this.parsed.set(k, p);
      }
    }
    return out;
  }

  /** Why this submission must not be logged, or undefined when its row rebuilds to its entry. */
  refusal(sub: Submission, chains: Map<string, ParsedCert>): CtError | undefined {
    const entryType = sub.entry.type === 'x509' ? 0 : 1;
    let rebuilt;
    try {
      const chain = sub.entry.type === 'precert' ? sub.chain.slice(0, 2).map((f) => chains.get(hex(f))).filter((c) => c !== undefined) : [];
      if (sub.entry.type === 'precert' && chain.length === 0) throw new Error('its issuer is neither in the message nor stored');
      rebuilt = rebuildSignedEntry({ idx: 0, timestamp: 0, entryType, cert: sub.cert, rebuild: this.rebuilders.current }, chain, this.rebuilders);
    } catch (err) {
      return notReproducible(`its stored form does not rebuild (${(err as Error).message})`);
    }
    if (!sameEntry(rebuilt, sub.entry)) return notReproducible(`its stored form rebuilds to a different ${sub.entry.type === 'x509' ? 'certificate' : 'precertificate TBS or issuer key hash'} than the one to be signed`);
    if (!equal(identityHash(rebuilt), sub.identity)) return notReproducible('its dedup identity is not the identity of its entry');
    this.rebuiltRows.set(sub.identity, rebuilt);
    return undefined;
  }

  /**
   * The leaf hash that goes into the tree for `sub` at (idx, timestamp): the read path's
   * leafOf over the signed_entry refusal() rebuilt from its row, which is byte-equal to the
   * entry whose SCT is signed. A submission refusal() did not pass is hashed from its
   * submitted entry, and verify() then rebuilds its row in full.
   */
  leafHash(sub: Submission, idx: number, timestamp: number): Uint8Array {
    const rebuilt = this.rebuiltRows.get(sub.identity);
    const { hash } = leafOf({ idx, timestamp }, rebuilt ?? sub.entry);
    if (rebuilt) this.hashed.set(sub.identity, { idx, timestamp, hash });
    return hash;
  }

  /** Throws unless every new row rebuilds to the leaf hash that goes into the tree (hashes[i] for entries[i]). */
  verify(entries: readonly EntryRecord[], hashes: readonly Uint8Array[], chains: Map<string, ParsedCert>): void {
    entries.forEach((e, i) => {
      // The very hash object leafHash() returned for this row's rebuild at this index and
      // time: the read path's leaf of this row, hashed once.
      const memo = this.hashed.get(e.identity);
      if (memo && memo.hash === hashes[i] && memo.idx === e.idx && memo.timestamp === e.timestamp) return;
      // The row's signed_entry as refusal() rebuilt it from the same fields (or rebuilt now):
      // the read path's rebuildLeaf is exactly rebuildSignedEntry followed by leafOf.
      let entry = this.rebuiltRows.get(e.identity);
      if (!entry) {
        const chain = e.entryType === 1 ? e.chain.slice(0, 2).map((f) => chains.get(hex(f))).filter((c) => c !== undefined) : [];
        entry = rebuildSignedEntry(e, chain, this.rebuilders);
      }
      const { hash } = leafOf(e, entry);
      if (!equal(hash, hashes[i]!)) throw new Error(`entry ${e.idx}: the stored row rebuilds to leaf hash ${hex(hash)}, the signed leaf hashes to ${hex(hashes[i]!)}`);
    });
    this.rebuiltRows.clear();
    this.hashed.clear();
  }
}

function tryParse(der: Uint8Array): ParsedCert | undefined {
  try {
    return parseCertificate(der);
  } catch {
    return undefined;
  }
}

function sameEntry(a: ReturnType<typeof rebuildSignedEntry>, b: Submission['entry']): boolean {
  if (a.type === 'x509' && b.type === 'x509') return equal(a.certificate, b.certificate);
  if (a.type === 'precert' && b.type === 'precert') return equal(a.issuerKeyHash, b.issuerKeyHash) && equal(a.tbsCertificate, b.tbsCertificate);
  return false;
}

function notReproducible(why: string): CtError {
  return new CtError(503, 'entry_not_reproducible', `the log will not sign this entry: ${why}; retry later`, { retryAfter: 5 });
}
