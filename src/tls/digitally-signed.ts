import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';

/** RFC 5246 §7.4.1.4.1 HashAlgorithm sha256. */
export const HASH_SHA256 = 4;
/** RFC 5246 §7.4.1.4.1 SignatureAlgorithm rsa. */
export const SIG_RSA = 1;
/** RFC 5246 §7.4.1.4.1 SignatureAlgorithm ecdsa. */
export const SIG_ECDSA = 3;

/** RFC 5246 §4.7 digitally-signed: algorithm pair and the signature bytes (DER for ECDSA). */
export interface DigitallySigned {
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Uint8Array;
}

export function writeDigitallySigned(w: TlsWriter, d: DigitallySigned): void {
  w.u8(d.hashAlgorithm, 'DigitallySigned.hash_algorithm');
  w.u8(d.signatureAlgorithm, 'DigitallySigned.signature_algorithm');
  w.opaque(2, d.signature, 'DigitallySigned.signature');
}

export function readDigitallySigned(r: TlsReader): DigitallySigned {
  const hashAlgorithm = r.u8('DigitallySigned.hash_algorithm');
  const signatureAlgorithm = r.u8('DigitallySigned.signature_algorithm');
  const signature = r.opaque(2, 'DigitallySigned.signature');
  return { hashAlgorithm, signatureAlgorithm, signature };
}

export function encodeDigitallySigned(d: DigitallySigned): Uint8Array {
  const w = new TlsWriter(4 + d.signature.byteLength);
  writeDigitallySigned(w, d);
  return w.finish();
}

/** Strict: the whole input is one DigitallySigned. `signature` aliases `b`. */
export function decodeDigitallySigned(b: Uint8Array): DigitallySigned {
  const r = new TlsReader(b, 'DigitallySigned');
  const d = readDigitallySigned(r);
  r.end();
  return d;
}
