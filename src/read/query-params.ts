// Query parameters of the RFC 6962 GET endpoints (§4), validated at the boundary. Every
// bad value is a 400 naming the parameter: never a 500 for bad input (invariant 5).
import { fromB64 } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';

const DECIMAL = /^[0-9]{1,16}$/;

/** The query string of a request URL ("" when there is none). */
export function queryOf(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

/** A required non-negative safe integer parameter, in plain decimal. */
export function intParam(q: URLSearchParams, name: string): number {
  const v = q.get(name);
  if (v === null || v === '') throw badRequest('missing_param', `missing parameter "${name}"`);
  if (!DECIMAL.test(v) || !Number.isSafeInteger(Number(v))) {
    throw badRequest('bad_param', `parameter "${name}" must be a non-negative decimal integer, got ${JSON.stringify(v.slice(0, 40))}`);
  }
  return Number(v);
}

/**
 * The `hash` of get-proof-by-hash: base64 of 32 bytes. URLSearchParams reads an unescaped
 * '+' as a space, and many clients do not escape it, so spaces are turned back into '+'.
 */
export function leafHashParam(q: URLSearchParams): Uint8Array {
  const v = q.get('hash');
  if (v === null || v === '') throw badRequest('missing_param', 'missing parameter "hash"');
  const h = fromB64(v.replaceAll(' ', '+'));
  if (h === undefined) throw badRequest('bad_param', `parameter "hash" is not base64: ${JSON.stringify(v.slice(0, 60))}`);
  if (h.byteLength !== 32) throw badRequest('bad_param', `parameter "hash" must be a 32-byte SHA-256 leaf hash, got ${h.byteLength} bytes`);
  return h;
}
