// What `ctlog load` sends: add-chain, add-pre-chain and add-pre-chain through a PSC in given
// proportions, some with an old notBefore (certificates logged long after issuance), and a
// share of exact resubmissions (which a log answers from its dedup index with the same SCT).
import type { TestCertKind } from '../test-issuer.js';

export interface LoadMix {
  /** Relative weights of the three kinds. */
  weights: Record<TestCertKind, number>;
  /** Fraction [0, 1] of new certificates with a notBefore months in the past. */
  old: number;
  /** Fraction [0, 1] of requests that resubmit a chain sent before. */
  duplicates: number;
}

const NAMES: Record<string, TestCertKind> = { 'add-chain': 'x509', 'add-pre-chain': 'precert', psc: 'psc' };

/** Parses "add-chain=60,add-pre-chain=30,psc=10" (any subset; weights need not sum to 100). */
export function parseMixWeights(spec: string): Record<TestCertKind, number> {
  const w: Record<TestCertKind, number> = { x509: 0, precert: 0, psc: 0 };
  for (const part of spec.split(',').filter(Boolean)) {
    const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(part.trim());
    const kind = m ? NAMES[m[1]!] : undefined;
    if (!m || !kind) throw new Error(`mix ${JSON.stringify(spec)}: want NAME=WEIGHT,... with NAME add-chain, add-pre-chain or psc`);
    w[kind] = Number(m[2]);
  }
  if (w.x509 + w.precert + w.psc <= 0) throw new Error(`mix ${JSON.stringify(spec)}: every weight is 0`);
  return w;
}

/** What the next request is, from a uniform random number source. */
export function pick(mix: LoadMix, random: () => number): { duplicate: boolean; kind: TestCertKind; old: boolean } {
  const duplicate = random() < mix.duplicates;
  const total = mix.weights.x509 + mix.weights.precert + mix.weights.psc;
  let r = random() * total;
  let kind: TestCertKind = 'psc';
  for (const k of ['x509', 'precert', 'psc'] as const) {
    if (r < mix.weights[k]) {
      kind = k;
      break;
    }
    r -= mix.weights[k];
  }
  return { duplicate, kind, old: random() < mix.old };
}
