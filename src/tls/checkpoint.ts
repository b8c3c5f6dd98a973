import { createHash } from 'node:crypto';
import { b64, concat, fromB64 } from '../util/bytes.js';
import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';
import { readDigitallySigned } from './digitally-signed.js';

// C2SP tlog-checkpoint and signed-note, with the static-ct-api "RFC 6962 TreeHeadSignature"
// signature type (0x05). A checkpoint is "<origin>\n<size>\n<base64 root>\n", then a blank
// line, then signature lines "— <key name> <base64(key ID || signature)>\n".

const EM_DASH_LINE = '\u2014 ';
/** signed-note: at most this many signature lines are processed. */
const MAX_SIGNATURES = 100;
const SIG_TYPE_RFC6962 = 0x05;

/** signed-note key names: non-empty, no whitespace, no '+'. Checkpoint origins follow the same rule here. */
function checkName(name: string, field: string): void {
  if (name === '' || /[\s+]/u.test(name)) throw new TlsError(field, `invalid key name ${JSON.stringify(name)}`);
}

/** The checkpoint body (tlog-checkpoint): origin, decimal size, base64 root hash; no extension lines. */
export function checkpointBody(origin: string, treeSize: number, rootHash: Uint8Array): string {
  checkName(origin, 'checkpoint.origin');
  if (!Number.isSafeInteger(treeSize) || treeSize < 0) throw new TlsError('checkpoint.size', `not a non-negative safe integer: ${treeSize}`);
  if (rootHash.byteLength !== 32) throw new TlsError('checkpoint.root', `length ${rootHash.byteLength}, want 32`);
  return `${origin}\n${treeSize}\n${b64(rootHash)}\n`;
}

/** static-ct-api `struct { uint64 timestamp; TreeHeadSignature signature; } RFC6962NoteSignature`. */
export function rfc6962NoteSignature(timestamp: number, treeHeadSignature: Uint8Array): Uint8Array {
  const w = new TlsWriter(8 + treeHeadSignature.byteLength);
  w.u64(timestamp, 'RFC6962NoteSignature.timestamp');
  w.raw(treeHeadSignature);
  return w.finish();
}

/** Inverse of rfc6962NoteSignature; `treeHeadSignature` is the encoded DigitallySigned. */
export function parseRfc6962NoteSignature(sig: Uint8Array): { timestamp: number; treeHeadSignature: Uint8Array } {
  const r = new TlsReader(sig, 'RFC6962NoteSignature');
  const timestamp = r.u64('RFC6962NoteSignature.timestamp');
  const start = r.offset;
  readDigitallySigned(r);
  r.end();
  return { timestamp, treeHeadSignature: sig.subarray(start) };
}

/** static-ct-api key ID: SHA-256(origin || 0x0A || 0x05 || logID)[:4]. */
export function noteKeyId(origin: string, logId: Uint8Array): Uint8Array {
  if (logId.byteLength !== 32) throw new TlsError('noteKeyId.logId', `length ${logId.byteLength}, want 32`);
  const h = createHash('sha256').update(origin, 'utf8').update(new Uint8Array([0x0a, SIG_TYPE_RFC6962])).update(logId).digest();
  return new Uint8Array(h.subarray(0, 4));
}

/** A checkpoint signed with the log's RFC 6962 key: body, blank line, one signature line. */
export function signedCheckpoint(
  origin: string,
  treeSize: number,
  rootHash: Uint8Array,
  timestamp: number,
  treeHeadSignature: Uint8Array,
  logId: Uint8Array,
): string {
  const body = checkpointBody(origin, treeSize, rootHash);
  const sig = concat(noteKeyId(origin, logId), rfc6962NoteSignature(timestamp, treeHeadSignature));
  return `${body}\n${EM_DASH_LINE}${origin} ${b64(sig)}\n`;
}

export interface ParsedCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: Uint8Array;
  /** Every signature line, in order; `signature` excludes the 4-byte key ID. */
  signatures: Array<{ name: string; keyId: Uint8Array; signature: Uint8Array }>;
}

/**
 * Strict parse of a signed checkpoint: exactly three body lines (RFC 6962-signed checkpoints
 * MUST NOT carry extension lines), a decimal size without leading zeros, a canonical base64
 * 32-byte root, a blank line and 1..100 well-formed signature lines, every line ending in \n.
 * It checks form only: signatures are verified by the caller against the keys it trusts.
 */
export function parseSignedCheckpoint(text: string): ParsedCheckpoint {
  const C = 'checkpoint';
  const split = text.indexOf('\n\n');
  if (split < 0) throw new TlsError(C, 'no blank line between body and signatures');
  const body = text.slice(0, split + 1);
  const sigText = text.slice(split + 2);
  const lines = body.split('\n');
  lines.pop();
  if (lines.length < 3) throw new TlsError(C, `body has ${lines.length} lines, want 3`);
  if (lines.length > 3) throw new TlsError(`${C}.extensions`, `${lines.length - 3} extension lines; not allowed with RFC 6962 signatures`);
  const [origin, sizeText, rootText] = lines as [string, string, string];
  checkName(origin, `${C}.origin`);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new TlsError(`${C}.size`, `not a decimal without leading zeros: ${JSON.stringify(sizeText)}`);
  const treeSize = Number(sizeText);
  if (!Number.isSafeInteger(treeSize)) throw new TlsError(`${C}.size`, `${sizeText} exceeds 2^53-1`);
  const rootHash = fromB64(rootText);
  if (rootHash === undefined || rootHash.byteLength !== 32) throw new TlsError(`${C}.root`, 'not base64 of 32 bytes');

  if (sigText === '') throw new TlsError(`${C}.signatures`, 'no signature lines');
  if (!sigText.endsWith('\n')) throw new TlsError(`${C}.signatures`, 'last line does not end in a newline');
  const sigLines = sigText.slice(0, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURES) throw new TlsError(`${C}.signatures`, `${sigLines.length} lines exceed ${MAX_SIGNATURES}`);
  const signatures = sigLines.map((line, i) => {
    const field = `${C}.signatures[${i}]`;
    if (!line.startsWith(EM_DASH_LINE)) throw new TlsError(field, 'does not start with "— "');
    const rest = line.slice(EM_DASH_LINE.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) throw new TlsError(field, 'no space between key name and signature');
    const name = rest.slice(0, sp);
    checkName(name, field);
    const raw = fromB64(rest.slice(sp + 1));
    if (raw === undefined) throw new TlsError(field, 'signature is not base64');
    if (raw.byteLength < 5) throw new TlsError(field, `signature of ${raw.byteLength} bytes is too short`);
    return { name, keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
  });
  return { origin, treeSize, rootHash, signatures };
}
