// The add-chain / add-pre-chain request body (RFC 6962 §4.1): {"chain": [base64 DER, ...]},
// leaf first. Only the shape is checked here; validateChain judges the certificates.
import { fromB64 } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';

/** Most certificates decoded before validateChain's own (configurable, lower) limit applies. */
const HARD_MAX_CHAIN = 64;

/** Decodes the body into DER certificates; throws CtError 400 naming the bad field. */
export function parseChainBody(body: Buffer): Uint8Array[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw badRequest('malformed_json', 'malformed JSON: the body must be {"chain": ["<base64 DER>", ...]}');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw badRequest('bad_body', 'the body must be a JSON object {"chain": ["<base64 DER>", ...]}');
  }
  const chain = (doc as { chain?: unknown }).chain;
  if (chain === undefined) throw badRequest('missing_chain', 'missing "chain": the body must be {"chain": ["<base64 DER>", ...]}');
  if (!Array.isArray(chain)) throw badRequest('bad_chain_field', '"chain" must be an array of base64 DER certificates, leaf first');
  if (chain.length === 0) throw badRequest('empty_chain', 'empty chain: submit at least the leaf certificate');
  if (chain.length > HARD_MAX_CHAIN) throw badRequest('chain_too_long', `chain too long: ${chain.length} certificates, at most ${HARD_MAX_CHAIN}`);
  const ders: Uint8Array[] = new Array(chain.length);
  for (let i = 0; i < chain.length; i++) {
    const s: unknown = chain[i];
    if (typeof s !== 'string') throw badRequest('bad_chain_field', `chain[${i}] must be a base64 string, got ${s === null ? 'null' : Array.isArray(s) ? 'an array' : typeof s}`);
    const der = fromB64(s);
    if (der === undefined) throw badRequest('bad_base64', `chain[${i}] is not valid base64 (RFC 4648 §4, padded, no whitespace)`);
    if (der.length === 0) throw badRequest('bad_base64', `chain[${i}] is empty`);
    ders[i] = der;
  }
  return ders;
}
