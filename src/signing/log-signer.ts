import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { encodeDigitallySigned, HASH_SHA256, SIG_ECDSA } from '../tls/digitally-signed.js';
import { sctSignatureInput, sthSignatureInput, type TreeHead } from '../tls/signature-input.js';
import type { SignedEntry } from '../tls/timestamped-entry.js';
import type { Sct } from '../tls/sct.js';
import { logIdFromSpki } from './log-id.js';

/**
 * The log's signing key. Held only by the sequencer (docs/DESIGN.md): it signs SCTs and STHs
 * only after the entries they cover are committed. Asynchronous because a key in a token
 * (PKCS#11) signs off the event loop; many signatures may be asked for at once, and an
 * implementation signs them concurrently as far as it can.
 */
export interface LogSigner {
  /** RFC 6962 §3.2 LogID of the key. */
  readonly logId: Uint8Array;
  /** DER SubjectPublicKeyInfo (what get-roots' log list entry and log ID are built from). */
  readonly publicKeySpki: Uint8Array;
  /** An SCT over (timestamp, entry, extensions) per §3.2; `extensions` is the CtExtensions content. */
  signSct(timestamp: number, entry: SignedEntry, extensions: Uint8Array): Promise<Sct>;
  /** The §3.5 TreeHeadSignature as an encoded DigitallySigned. */
  signSth(sth: TreeHead): Promise<Uint8Array>;
  /** Releases what the key holds open (a token's sessions); the signer is unusable after. */
  close?(): Promise<void>;
}

/**
 * A LogSigner over any ECDSA P-256 signing function: `signDer` returns the DER ECDSA
 * signature (RFC 3279) over SHA-256 of `data`. The results go in DigitallySigned{sha256(4),
 * ecdsa(3)}.
 */
export function signerFromFunction(publicKeySpki: Uint8Array, signDer: (data: Uint8Array) => Promise<Uint8Array>, close?: () => Promise<void>): LogSigner {
  const logId = logIdFromSpki(publicKeySpki);
  const signDs = async (data: Uint8Array): Promise<Uint8Array> =>
    encodeDigitallySigned({ hashAlgorithm: HASH_SHA256, signatureAlgorithm: SIG_ECDSA, signature: await signDer(data) });
  return {
    logId,
    publicKeySpki,
    async signSct(timestamp, entry, extensions) {
      const signature = await signDs(sctSignatureInput(timestamp, entry, extensions));
      return { version: 0, logId, timestamp, extensions, signature };
    },
    signSth(sth) {
      return signDs(sthSignatureInput(sth));
    },
    ...(close ? { close } : {}),
  };
}

/**
 * A signer for an ECDSA P-256 private key (the key type RFC 6962 logs use and browsers
 * accept). Signatures are DER ECDSA over SHA-256, in DigitallySigned{sha256(4), ecdsa(3)}.
 * Throws for any other key.
 */
export function createSigner(privateKey: KeyObject): LogSigner {
  if (privateKey.type !== 'private') throw new Error(`log key: want a private key, got a ${privateKey.type} key`);
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new Error(`log key: want ECDSA P-256, got ${privateKey.asymmetricKeyType}${curve ? ` (${curve})` : ''}`);
  }
  const publicKeySpki = new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));
  // node's sign() is synchronous and cheap (tens of µs); a resolved promise keeps one interface.
  return signerFromFunction(publicKeySpki, async (data) => sign('sha256', data, privateKey));
}
