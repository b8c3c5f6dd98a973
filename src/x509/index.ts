// X.509 for a CT log: a fast DER walk, cached-key signature checks, chain and
// precertificate validation (RFC 6962 §3.1, §4.1, §4.2). Pure: bytes and times in.
export { DerError, readTlv, decodeOid, encodeTlv, type Tlv } from './der.js';
export { parseCertificate, parseTimeTlv, tbsLayout, type ParsedCert, type Extension, type TbsLayout } from './certificate.js';
export { PublicKeyCache, verifySignedBy, verifySignature, signatureScheme } from './keys.js';
export { RootStore } from './roots.js';
export { validateChain, type ChainPolicy, type ValidatedSubmission } from './chain.js';
export { precertTbs, precertTbsV1, isPrecertSigningCert, type PrecertTbsFn } from './precert-tbs.js';
export { LEAF_REBUILDERS, rebuildSignedEntry, rebuildLeaf, rebuildLeafFast, leafOf, type LeafRebuilders, type StoredLeaf } from './leaf-rebuild.js';
export { identityHash } from './identity-hash.js';
export { formatName } from './format-name.js';
export * from './oids.js';
