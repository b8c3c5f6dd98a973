// `npm run bench -- faults [rate=500] [seconds=45] [case,case,...]`: the fault battery of
// issues 7 and 8, longer than the bounded test (test/faults/fault-battery.test.ts) and at a
// higher rate: per case a fresh sequencer + ctfe + read on a private MariaDB and Redis,
// CA-like clients at a fixed rate, one fault (kill -9 of each process, a Redis restart, two
// within a minute, a MariaDB stop, two sequencers, a rollback to an older dump; on a
// semi-synchronous replicated set with require_replica_ack: kill -9 of the primary with
// `ctlog promote` of a replica, and the replica hanging then stopping replicating), then every
// SCT and every tree head checked. Targets: 0 lost SCTs, 0 SCTs for another submission, 0 STH
// conflicts, every process back without a hand (the rollback: stopped by the fork guard until
// the data is restored), and in the replication cases every SCT in the database copy's own
// tables (the promoted primary; the replica while it stood still). Times to recover are
// measured on a shared 2-core box and are noisy.
import { cpus, loadavg } from 'node:os';
import { CASES, FaultBattery, formatTable, type CaseName } from '../test/faults/fault-battery.js';
import { printTable, type Row } from './table.js';

const RATE = Number(process.argv[2] ?? 500);
const SECONDS = Number(process.argv[3] ?? 45);
const only = process.argv[4]?.split(',').map((s) => s.trim());
const cases = only ? CASES.filter((c) => only.includes(c)) : CASES;
if (!(RATE > 0 && SECONDS >= 20) || (only && cases.length !== only.length)) {
  console.error(`usage: npm run bench -- faults [rate per second] [seconds per case, >= 20] [cases, comma-separated]\ncases: ${CASES.join(', ')}`);
  process.exit(2);
}

const log = (s: string) => process.stderr.write(`faults: ${s}\n`);
log(`${cases.length} cases, ${RATE}/s for ${SECONDS} s each (load average now ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
const battery = await FaultBattery.start({
  rate: RATE,
  loadS: SECONDS,
  faultAtS: Math.round(SECONDS / 3),
  redisGapS: 30, // issue 7: two restarts within a minute
  mariadbDownS: 6,
  replicaOutS: 6,
  restartDelayMs: 1000,
  timeoutMs: 30_000,
  maxInFlight: 3000,
  proofSample: 1000,
  drainMs: 60_000,
  cases,
  log,
});
let pass = true;
try {
  const results = [];
  for (const name of cases) {
    const r = await battery.runCase(name as CaseName);
    results.push(r);
    const rows: Row[] = [
      { figure: 'submissions', value: r.submissions, unit: 'chains' },
      { figure: 'SCTs returned', value: r.scts, unit: 'SCTs' },
      { figure: 'SCTs verified included', value: r.included, unit: 'SCTs', target: r.scts, goal: 'min' },
      { figure: 'lost SCTs', value: r.lost, unit: 'SCTs', target: 0, goal: 'max' },
      { figure: 'SCTs for another submission', value: r.wrong, unit: 'SCTs', target: 0, goal: 'max' },
      { figure: 'STH conflicts', value: r.sthConflicts, unit: 'tree heads', target: 0, goal: 'max' },
      { figure: `inclusion proofs checked (get-proof-by-hash), failed`, value: r.proofFailures, unit: `of ${r.proofsChecked}`, target: 0, goal: 'max' },
      ...(r.databaseCheck
        ? [{ figure: `SCTs missing from ${r.databaseCheck.what}`, value: r.databaseCheck.missing, unit: `of ${r.databaseCheck.checked}`, target: 0, goal: 'max' as const }]
        : []),
      ...(r.whileFrozen
        ? [{ figure: 'SCTs before the replica resumed, for submissions first sent while it hung', value: r.whileFrozen.scts, unit: `of ${r.whileFrozen.submissions}`, target: 0, goal: 'max' as const }]
        : []),
      { figure: 'time to recover (noisy: shared box)', value: r.recoverS ?? Infinity, unit: 's' },
      {
        figure: name === 'rollback' ? `fork guard stopped the sequencer, back once the data was restored (${r.rollback})` : 'every process came back without a hand',
        value: r.cameBack ? 1 : 0,
        unit: 'yes=1',
        target: 1,
        goal: 'min',
      },
    ];
    pass = printTable(`faults: ${name} (${RATE}/s, ${SECONDS} s; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores shared with other work)`, rows) && pass;
  }
  console.log('\nfaults: the table of issues 7 and 8');
  for (const l of formatTable(results)) console.log(l);
} finally {
  await battery.close();
}
process.exitCode = pass ? 0 : 1;
