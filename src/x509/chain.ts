// add-chain / add-pre-chain validation (RFC 6962 §4.1, §4.2): the submitted chain must
// lead, each certificate signed by the next, to an accepted root; a precertificate must
// carry the poison extension (§3.1) and an ordinary certificate must not. Cheap checks
// run before signature checks, so garbage costs little.
import { equal, hex } from '../util/bytes.js';
import { CtError, badRequest } from '../util/errors.js';
import type { SignedEntry } from '../tls/index.js';
import { parseCertificate, type ParsedCert } from './certificate.js';
import { formatName } from './format-name.js';
import { identityHash } from './identity-hash.js';
import { signatureScheme, verifySignedBy, type PublicKeyCache } from './keys.js';
import { OID_CT_POISON, OID_EKU_ANY, OID_EKU_SERVER_AUTH } from './oids.js';
import { isPrecertSigningCert, precertTbs } from './precert-tbs.js';
import type { RootStore } from './roots.js';

/** What a shard accepts. Times are ms since the epoch, passed in by the caller. */
export interface ChainPolicy {
  roots: RootStore;
  /** Temporal shard window [notAfterStart, notAfterLimit): the leaf's notAfter must fall inside. */
  notAfterStart: number;
  notAfterLimit: number;
  now: number;
  /** Reject leaves whose notAfter is before `now`. @defaultValue false */
  rejectExpired?: boolean;
  /** Require serverAuth or anyExtendedKeyUsage when the leaf has an EKU extension. @defaultValue false */
  requireServerAuthEku?: boolean;
  /** Most certificates a submission may contain, leaf included. @defaultValue 10 */
  maxChainLength?: number;
}

/** An accepted submission, ready for dedup and sequencing. */
export interface ValidatedSubmission {
  kind: 'x509' | 'precert';
  /** The certificate or precertificate as submitted. */
  leaf: ParsedCert;
  /**
   * The issuers after the leaf, in order, ending with the accepted root (appended from the
   * store if the submitter omitted it). Submitted certificates after the first accepted
   * root are dropped: the path to the root is what the log keeps.
   */
  chain: ParsedCert[];
  entry: SignedEntry;
  /** identityHash(entry): 32 bytes. */
  identity: Uint8Array;
  notAfter: number;
}

const DEFAULT_MAX_CHAIN = 10;

/**
 * Validates a submitted chain (leaf first) for add-chain ('x509') or add-pre-chain
 * ('precert') and builds its signed_entry. Throws CtError 400 with a bounded `reason`
 * and a message a CA engineer can act on, naming certificates as chain[i]. A certificate
 * may come already parsed (the CTFE's cache of issuers it has seen in valid chains);
 * parsed certificates are never modified.
 */
export function validateChain(
  kind: 'x509' | 'precert',
  chainDer: ReadonlyArray<Uint8Array | ParsedCert>,
  policy: ChainPolicy,
  keys: PublicKeyCache,
): ValidatedSubmission {
  const max = policy.maxChainLength ?? DEFAULT_MAX_CHAIN;
  if (chainDer.length === 0) throw badRequest('empty_chain', 'empty chain: submit at least the leaf certificate');
  if (chainDer.length > max) {
    throw badRequest('chain_too_long', `chain too long: ${chainDer.length} certificates, at most ${max}`);
  }
  const certs = chainDer.map((d, i) => (d instanceof Uint8Array ? parseCertificate(d, `chain[${i}]`) : d));
  const seen = new Map<string, number>();
  for (let i = 0; i < certs.length; i++) {
    const fp = hex(certs[i]!.fingerprint);
    const prev = seen.get(fp);
    if (prev !== undefined) throw badRequest('duplicate_certificate', `chain[${i}] repeats chain[${prev}]: a chain may not contain a certificate twice`);
    seen.set(fp, i);
  }

  const leaf = certs[0]!;
  checkLeaf(kind, leaf, policy);
  if (policy.roots.has(leaf.fingerprint)) {
    throw badRequest('root_as_leaf', `chain[0] (${formatName(leaf.subject)}) is an accepted root; submit a certificate issued under it`);
  }

  // Walk up: chain[i] must have signed chain[i-1]; stop at the first accepted root.
  signatureScheme(leaf, 'chain[0]');
  let end = certs.length; // exclusive end of the part of the submission that is kept
  for (let i = 1; i < certs.length; i++) {
    const child = certs[i - 1]!;
    const cert = certs[i]!;
    if (!verifySignedBy(child, cert, keys)) throw notSignedBy(i, child, cert);
    const isRoot = policy.roots.has(cert.fingerprint);
    if (!isRoot && !cert.isCA) {
      throw badRequest('not_ca', `chain[${i}] (${formatName(cert.subject)}) is not a CA certificate (basicConstraints cA is not TRUE) but signed chain[${i - 1}]`);
    }
    if (isRoot) {
      end = i + 1;
      break;
    }
    signatureScheme(cert, `chain[${i}]`);
  }
  const chain = certs.slice(1, end);
  const last = certs[end - 1]!;
  if (!policy.roots.has(last.fingerprint)) chain.push(findRoot(last, end - 1, policy.roots, keys));

  let entry: SignedEntry;
  if (kind === 'x509') {
    entry = { type: 'x509', certificate: leaf.der };
  } else {
    const issuer = chain[0]!;
    if (isPrecertSigningCert(issuer) && chain.length < 2) {
      throw badRequest('psc_without_issuer', `chain[1] is a Precertificate Signing Certificate and an accepted root; it must be certified by the CA that issues the final certificate`);
    }
    const { tbs, issuerKeyHash } = precertTbs(leaf, issuer, chain[1]);
    entry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs };
  }
  return { kind, leaf, chain, entry, identity: identityHash(entry), notAfter: leaf.notAfter };
}

function checkLeaf(kind: 'x509' | 'precert', leaf: ParsedCert, policy: ChainPolicy): void {
  const poison = leaf.extensions.find((e) => e.oid === OID_CT_POISON);
  if (kind === 'x509' && poison) {
    throw badRequest('unexpected_poison', `chain[0] is a precertificate (it carries the CT poison extension ${OID_CT_POISON}); submit it to add-pre-chain`);
  }
  if (kind === 'precert') {
    if (!poison) throw badRequest('missing_poison', `chain[0] is not a precertificate (no CT poison extension ${OID_CT_POISON}); submit it to add-chain`);
    if (!poison.critical) throw badRequest('bad_poison', 'chain[0]: the CT poison extension must be critical (RFC 6962 §3.1)');
    if (poison.value.length !== 2 || poison.value[0] !== 0x05 || poison.value[1] !== 0x00) {
      throw badRequest('bad_poison', `chain[0]: the CT poison extension must contain ASN.1 NULL (05 00), got ${hex(poison.value.subarray(0, 16))} (RFC 6962 §3.1)`);
    }
  }
  if (leaf.notAfter < policy.notAfterStart || leaf.notAfter >= policy.notAfterLimit) {
    throw badRequest(
      'not_after_out_of_window',
      `notAfter ${iso(leaf.notAfter)} is outside this shard's window [${iso(policy.notAfterStart)}, ${iso(policy.notAfterLimit)})`,
    );
  }
  if (policy.rejectExpired && leaf.notAfter < policy.now) {
    throw badRequest('expired', `chain[0] expired at ${iso(leaf.notAfter)}, before now (${iso(policy.now)})`);
  }
  if (policy.requireServerAuthEku && leaf.extKeyUsage && !leaf.extKeyUsage.some((o) => o === OID_EKU_SERVER_AUTH || o === OID_EKU_ANY)) {
    throw badRequest(
      'missing_server_auth_eku',
      `chain[0] has an extKeyUsage without serverAuth (${OID_EKU_SERVER_AUTH}) or anyExtendedKeyUsage: ${leaf.extKeyUsage.join(', ') || '(empty)'}`,
    );
  }
}

function notSignedBy(i: number, child: ParsedCert, cert: ParsedCert): CtError {
  const c = formatName(child.issuer);
  const s = formatName(cert.subject);
  if (!equal(child.issuer, cert.subject)) {
    return badRequest('bad_signature', `chain[${i}] did not sign chain[${i - 1}]: chain[${i - 1}] names its issuer ${c} but chain[${i}] is ${s}`);
  }
  return badRequest('bad_signature', `chain[${i}] did not sign chain[${i - 1}]: the signature does not verify with chain[${i}]'s key (${s})`);
}

// The submitter may omit the root: look it up by the last certificate's issuer Name and
// accept the first candidate whose key verifies the signature (several roots can share a
// name, e.g. a re-keyed root).
function findRoot(last: ParsedCert, i: number, roots: RootStore, keys: PublicKeyCache): ParsedCert {
  const candidates = roots.bySubject(last.issuer);
  for (const root of candidates) if (verifySignedBy(last, root, keys)) return root;
  if (equal(last.issuer, last.subject)) {
    throw badRequest('unknown_root', `chain ends at a self-signed certificate that is not an accepted root: chain[${i}] (${formatName(last.subject)})`);
  }
  throw badRequest(
    'unknown_root',
    candidates.length
      ? `chain ends at an unknown root (issuer ${formatName(last.issuer)}): no accepted root of that name signed chain[${i}]`
      : `chain ends at an unknown root (issuer ${formatName(last.issuer)})`,
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}
