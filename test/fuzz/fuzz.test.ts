// The seeded, bounded fuzz run of the suite (issue 10 "Fuzzing"): every decoder and HTTP input
// with a fixed seed, so a failure reproduces. CTLOG_FUZZ_SEED picks another seed;
// `npm run bench -- fuzz` runs >= 10^6 inputs.
import { after, before, describe, test } from 'node:test';
import { fuzzSetup, type FuzzSetup } from './setup.js';
import { ctfeTarget, decoderTargets, readTarget, runTarget } from './targets.js';

const SEED = Number(process.env.CTLOG_FUZZ_SEED ?? 20261201);

describe(`fuzz (seed ${SEED}): no exception escapes a decoder, no input gets a 500`, () => {
  let s: FuzzSetup;
  before(async () => {
    s = await fuzzSetup();
  });
  after(() => s.close());

  test('decoders', async (t) => {
    for (const target of decoderTargets(s.corpus)) await t.test(target.name, () => runTarget(target, 1500, SEED));
  });
  test('HTTP', async (t) => {
    await t.test('add-chain / add-pre-chain', () => runTarget(ctfeTarget(s.ctfe.handle, s.ctfe.prefix, s.corpus), 600, SEED));
    await t.test('read endpoints', () => runTarget(readTarget(s.read.handle, s.read.prefix), 1500, SEED));
  });
});
