// `npm run bench -- fuzz [total] [seed]`: every fuzz target of test/fuzz/targets.ts (every
// decoder and HTTP input) with >= 10^6 inputs in all (default 1,000,000). The pass condition
// is the suite's: no exception escapes a decoder but its own error types, no answer is a 500.
// A failure prints fast-check's report: the seed and the shrunk counterexample.
import { fuzzSetup } from '../test/fuzz/setup.js';
import { ctfeTarget, decoderTargets, readTarget, runTarget, type Target } from '../test/fuzz/targets.js';
import { progress } from './_harness.js';
import { printTable, type Row } from './table.js';

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
console.log(`fuzz: ${total.toLocaleString('en-US')} inputs, seed ${seed} (rerun with: npm run bench -- fuzz ${total} ${seed})`);

const s = await fuzzSetup();
const decoders = decoderTargets(s.corpus);
// HTTP inputs cost ~10-100x a decoder input: a fifth of the budget goes to them.
const http: Target[] = [ctfeTarget(s.ctfe.handle, s.ctfe.prefix, s.corpus), readTarget(s.read.handle, s.read.prefix)];
const plan: Array<[Target, number]> = [
  ...decoders.map((t): [Target, number] => [t, Math.ceil((total * 0.8) / decoders.length)]),
  ...http.map((t): [Target, number] => [t, Math.ceil((total * 0.2) / http.length)]),
];
const rows: Row[] = [];
let done = 0;
let failed = 0;
const t0 = performance.now();
for (const [t, runs] of plan) {
  const started = performance.now();
  // In slices, so that a long run shows progress; each slice has its own derived seed.
  const slice = 50_000;
  let ok = true;
  for (let at = 0; at < runs && ok; at += slice) {
    try {
      await runTarget(t, Math.min(slice, runs - at), (seed + at) | 0);
    } catch (err) {
      ok = false;
      failed++;
      console.error(`\n${t.name}: FAILED\n${(err as Error).message}`);
    }
    done += Math.min(slice, runs - at);
    progress('fuzz', done, plan.reduce((a, [, r]) => a + r, 0), t0);
  }
  const secs = (performance.now() - started) / 1000;
  rows.push({ figure: `${t.name}: inputs${ok ? '' : ' (FAILED)'}`, value: runs, unit: `(${Math.round(runs / secs).toLocaleString('en-US')}/s)` });
}
await s.close();
rows.push({ figure: 'inputs in all', value: done, unit: 'inputs', target: 1_000_000, goal: 'min' });
rows.push({ figure: 'targets failed (escaping exception or a 500)', value: failed, unit: 'targets', target: 0, goal: 'max' });
const ok = printTable(`Fuzz, seed ${seed}, ${((performance.now() - t0) / 1000).toFixed(0)} s (a shared machine: rates are indicative)`, rows);
process.exit(ok ? 0 : 1);
