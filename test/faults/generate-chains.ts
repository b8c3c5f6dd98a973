// Chains for the fault battery, made before the measured window so that generating them does
// not eat the CPU the log needs: certificates and precertificates (some through a PSC) under
// the demo root, each with the entry its SCT must sign.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, loadIssuer, makeIntermediate } from '../../src/cli/cert-factory.js';
import type { SignedEntry } from '../../src/tls/index.js';
import { b64 } from '../../src/util/bytes.js';
import { parseCertificate, precertTbs } from '../../src/x509/index.js';
import { REPO } from '../e2e/processes.js';

export const DEMO_ROOT = join(REPO, 'demo/demo-root.pem');

/** One chain to submit, with the entry its SCT must sign (computed once, before the load). */
export interface Sub {
  n: number;
  endpoint: 'add-chain' | 'add-pre-chain';
  body: string;
  entry: SignedEntry;
}

/**
 * `count` fresh chains under the demo root: half certificates (add-chain), half
 * precertificates (add-pre-chain), every other precertificate through a Precertificate
 * Signing Certificate. One leaf key and one PSC for all, as a CA has (a key per leaf would
 * cost more than the rest). The entry each SCT must sign is rebuilt here once: the
 * battery checks that an SCT belongs to its submission; the e2e tests check the encoding.
 */
export function generateChains(count: number, startN = 0): Sub[] {
  const now = Date.now();
  const notBefore = now - 3600_000;
  const notAfter = now + 90 * 86400_000;
  const root = loadIssuer(readFileSync(DEMO_ROOT, 'utf8'), readFileSync(join(REPO, 'demo/demo-root-key.pem'), 'utf8'));
  const inter = makeIntermediate(root, now);
  const psc = issue(inter, { cn: 'ctlog faults Precertificate Signing', ca: true, psc: true, notBefore, notAfter: notAfter + 86400_000 });
  const [interCert, pscCert] = [parseCertificate(inter.der), parseCertificate(psc.der)];
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const out: Sub[] = [];
  for (let i = 0; i < count; i++) {
    const precert = i % 2 === 1;
    const viaPsc = i % 4 === 3;
    const leaf = issue(viaPsc ? psc : inter, { cn: `${randomBytes(8).toString('hex')}.faults.example`, notBefore, notAfter, precert, spki });
    const chain = viaPsc ? [leaf.der, psc.der, inter.der] : [leaf.der, inter.der];
    let entry: SignedEntry = { type: 'x509', certificate: leaf.der };
    if (precert) {
      const { tbs, issuerKeyHash } = precertTbs(parseCertificate(leaf.der), viaPsc ? pscCert : interCert, viaPsc ? interCert : undefined);
      entry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs };
    }
    out.push({ n: startN + i, endpoint: precert ? 'add-pre-chain' : 'add-chain', body: JSON.stringify({ chain: chain.map(b64) }), entry });
  }
  return out;
}

