// Which submissions come first when the log cannot take them all. A CA cannot issue until
// it holds SCTs for its precertificate, so add-pre-chain is what a log exists for. A final
// certificate submitted right after issuance is the usual next step. A certificate issued
// long ago, or one that already carries SCTs (it was logged before being issued), is
// bulk back-filling: useful, but it can wait, so it is limited apart and shed first.
import { OID_CT_SCT_LIST, parseCertificate } from '../x509/index.js';

export type Priority = 'high' | 'low';

/**
 * The priority of a submission, from its leaf alone (before the chain is validated: this
 * decides whether validating it is worth the CPU). A leaf that does not parse is 'high':
 * validateChain will refuse it with the right 400.
 */
export function priorityOf(endpoint: 'add-chain' | 'add-pre-chain', leafDer: Uint8Array, now: number, oldNotBeforeMs: number): Priority {
  if (endpoint === 'add-pre-chain') return 'high';
  let leaf;
  try {
    leaf = parseCertificate(leafDer);
  } catch {
    return 'high';
  }
  if (now - leaf.notBefore > oldNotBeforeMs) return 'low';
  if (leaf.extensions.some((e) => e.oid === OID_CT_SCT_LIST)) return 'low';
  return 'high';
}
