// The add-chain / add-pre-chain request body (RFC 6962 §4.1): {"chain": [base64 DER, ...]},
// leaf first. Only the shape is checked here; validateChain judges the certificates.
import { fromB64 } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';
import type { ParsedCert } from '../x509/index.js';

/** Most certificates decoded before validateChain's own (configurable, lower) limit applies. */
const HARD_MAX_CHAIN = 64;

/** A decoded chain: the leaf's DER, then each issuer's DER or its cached parse; and the base64 strings as sent. */
export interface ChainBody {
  certs: [Uint8Array, ...Array<Uint8Array | ParsedCert>];
  b64: string[];
}

/**
 * Decodes the body into DER certificates; throws CtError 400 naming the bad field. An
 * issuer (chain[1..]) that `known` returns a parse for, by its exact base64 text, is
 * neither decoded nor parsed again: the same text always decodes to the same DER.
 */
export function parseChainBody(body: Buffer, known?: (b64: string) => ParsedCert | undefined): ChainBody {
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
  const ders: Array<Uint8Array | ParsedCert> = new Array(chain.length);
  for (let i = 0; i < chain.length; i++) {
    const s: unknown = chain[i];
    if (typeof s !== 'string') throw badRequest('bad_chain_field', `chain[${i}] must be a base64 string, got ${s === null ? 'null' : Array.isArray(s) ? 'an array' : typeof s}`);
    const parsed = i > 0 ? known?.(s) : undefined;
    if (parsed) {
      ders[i] = parsed;
      continue;
    }
    const der = fromB64(s);
    if (der === undefined) throw badRequest('bad_base64', `chain[${i}] is not valid base64 (RFC 4648 §4, padded, no whitespace)`);
    if (der.length === 0) throw badRequest('bad_base64', `chain[${i}] is empty`);
    ders[i] = der;
  }
  return { certs: ders as ChainBody['certs'], b64: chain as string[] };
}
