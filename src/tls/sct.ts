import { b64, fromB64 } from '../util/bytes.js';
import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';
import { decodeDigitallySigned, readDigitallySigned } from './digitally-signed.js';

/** RFC 6962 §3.2 SignedCertificateTimestamp (v1 only). */
export interface Sct {
  version: 0;
  /** 32-byte LogID: SHA-256 of the log's DER SubjectPublicKeyInfo. */
  logId: Uint8Array;
  /** ms since the epoch. */
  timestamp: number;
  /** CtExtensions content, without its 2-byte length. */
  extensions: Uint8Array;
  /** The encoded DigitallySigned (RFC 5246 §4.7), as it appears on the wire. */
  signature: Uint8Array;
}

/** The §4.1 add-chain / add-pre-chain response body. */
export interface SctJson {
  sct_version: number;
  id: string;
  timestamp: number;
  extensions: string;
  signature: string;
}

const F = 'SignedCertificateTimestamp';

/** Binary SCT as carried in TLS extensions and X.509 SCT lists (§3.3). */
export function encodeSct(s: Sct): Uint8Array {
  // The signature must itself be one well-formed DigitallySigned, or the output is unparseable.
  decodeDigitallySigned(s.signature);
  const w = new TlsWriter(1 + 32 + 8 + 2 + s.extensions.byteLength + s.signature.byteLength);
  w.u8(s.version, `${F}.sct_version`);
  w.fixed(s.logId, 32, `${F}.id`);
  w.u64(s.timestamp, `${F}.timestamp`);
  w.opaque(2, s.extensions, `${F}.extensions`);
  w.raw(s.signature);
  return w.finish();
}

/** Strict decode of a binary SCT; rejects versions other than v1(0). Fields alias `b`. */
export function decodeSct(b: Uint8Array): Sct {
  const r = new TlsReader(b, F);
  const version = r.u8(`${F}.sct_version`);
  if (version !== 0) throw new TlsError(`${F}.sct_version`, `unsupported version ${version}`);
  const logId = r.fixed(32, `${F}.id`);
  const timestamp = r.u64(`${F}.timestamp`);
  const extensions = r.opaque(2, `${F}.extensions`);
  const start = r.offset;
  readDigitallySigned(r);
  const signature = b.subarray(start, r.offset);
  r.end();
  return { version: 0, logId, timestamp, extensions, signature };
}

/**
 * §4.1 JSON form. `extensions` is always present ("" when empty): clients such as
 * certificate-transparency-go reject a response without it.
 */
export function sctToJson(s: Sct): SctJson {
  return { sct_version: s.version, id: b64(s.logId), timestamp: s.timestamp, extensions: b64(s.extensions), signature: b64(s.signature) };
}

/** Parses and validates the §4.1 JSON form (e.g. an SCT returned by another log). */
export function sctFromJson(j: unknown): Sct {
  const J = 'SCT JSON';
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new TlsError(J, 'not an object');
  const o = j as Record<string, unknown>;
  if (o.sct_version !== 0) throw new TlsError(`${J}.sct_version`, `unsupported version ${JSON.stringify(o.sct_version)}`);
  const bytes = (name: string): Uint8Array => {
    const v = o[name];
    if (typeof v !== 'string') throw new TlsError(`${J}.${name}`, 'missing or not a string');
    const d = fromB64(v);
    if (d === undefined) throw new TlsError(`${J}.${name}`, 'not base64');
    return d;
  };
  const logId = bytes('id');
  if (logId.byteLength !== 32) throw new TlsError(`${J}.id`, `length ${logId.byteLength}, want 32`);
  const timestamp = o.timestamp;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TlsError(`${J}.timestamp`, `not a non-negative integer: ${JSON.stringify(timestamp)}`);
  }
  const extensions = bytes('extensions');
  if (extensions.byteLength > 0xffff) throw new TlsError(`${J}.extensions`, `length ${extensions.byteLength} exceeds 65535`);
  const signature = bytes('signature');
  decodeDigitallySigned(signature);
  return { version: 0, logId, timestamp, extensions, signature };
}
