// The fault battery of issues 7 and 8, bounded for the test command: every case on a fresh
// deployment (sequencer + ctfe + read processes on a private MariaDB and Redis), 300
// submissions/s of add-chain and add-pre-chain, one fault per case. Each case must end with
// 0 lost SCTs, 0 SCTs for another submission and 0 STH conflicts, every 5xx a 503 with
// Retry-After, and every process back without a hand; the rollback must stop the sequencer
// (fork guard) until the newer data is restored. The replication cases run on a replicated
// set of their own with `require_replica_ack: true`:
//  - primary loss with promotion: kill -9 of the primary mariadbd, `ctlog promote` of a
//    replica, every process restarted on it: the fork guard accepts it, and every SCT is in
//    its own tables at its index and timestamp;
//  - replica stops acknowledging under load: the only replica hangs (SIGSTOP), and no
//    submission first sent meanwhile gets an SCT before it resumes; then it stops replicating
//    (STOP SLAVE IO_THREAD), and every SCT returned so far is in its own tables. 503 +
//    Retry-After meanwhile (never a 500), and the log resumes without a hand.
// The longer run is `npm run bench -- faults`.
//
// CTLOG_FAULTS_CASES="kill -9 ctfe,rollback" runs only the cases named (while debugging).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CASES, FaultBattery, formatTable, type CaseName, type CaseResult } from './fault-battery.js';

const only = process.env.CTLOG_FAULTS_CASES?.split(',').map((s) => s.trim());
const cases = only ? CASES.filter((c) => only.includes(c)) : CASES;

describe('fault battery under load (issues 7 and 8)', { concurrency: false }, () => {
  let battery: FaultBattery;
  const results: CaseResult[] = [];

  before(async () => {
    battery = await FaultBattery.start({
      rate: 300,
      loadS: 10,
      faultAtS: 3,
      redisGapS: 8,
      mariadbDownS: 4,
      replicaOutS: 4,
      restartDelayMs: 1000,
      timeoutMs: 15_000,
      maxInFlight: 500,
      proofSample: 200,
      drainMs: 30_000,
      cases,
      log: (l) => console.log(`# ${l}`),
    });
  });

  after(async () => {
    await battery?.close();
    for (const l of formatTable(results)) console.log(`# ${l}`);
  });

  for (const name of cases) {
    test(name, { timeout: 240_000 }, async () => {
      const r = await battery.runCase(name as CaseName);
      results.push(r);
      const why = [...r.notes, ...r.problems].join('\n');
      assert.equal(r.wrong, 0, `SCTs for another submission:\n${why}`);
      assert.equal(r.lost, 0, `lost SCTs:\n${why}`);
      assert.equal(r.sthConflicts, 0, `STH conflicts:\n${why}`);
      assert.equal(r.proofFailures, 0, `get-proof-by-hash failures:\n${why}`);
      assert.equal(r.included, r.scts, 'every SCT verified included');
      assert.equal(r.refused, 0, `valid chains refused with a 4xx:\n${why}`);
      const bad5xx = [...r.answers].filter(([k]) => /^5\d\d/.test(k) && k !== '503');
      assert.deepEqual(bad5xx, [], 'every 5xx is a 503 with Retry-After (never a 500, never a 503 without Retry-After)');
      if (name === 'rollback') {
        assert.equal(r.rollback, 'stopped as required', `after the rollback the sequencer must stop with a fork-guard error:\n${why}`);
        assert.ok(r.cameBack, `the sequencer came back once the newer data was restored:\n${why}`);
      } else {
        assert.ok(r.cameBack, `every process came back without a hand:\n${why}`);
      }
      if (name === 'primary loss with promotion' || name === 'replica stops acknowledging under load') {
        assert.ok(r.databaseCheck && r.databaseCheck.checked > 0, `SCTs looked up in the database copy:\n${why}`);
        assert.equal(r.databaseCheck.missing, 0, `SCTs missing from ${r.databaseCheck.what}:\n${why}`);
      }
      if (name === 'primary loss with promotion') {
        assert.equal(r.forkGuardError, undefined, 'the fork guard accepts the promoted replica');
        assert.match(r.promotion ?? '', /same head|consistent extension/, 'ctlog promote checked the published head against the replica');
      }
      if (name === 'replica stops acknowledging under load') {
        assert.ok((r.answers.get('503') ?? 0) > 0, `503 + Retry-After while no replica acknowledged:\n${why}`);
        assert.ok(r.whileFrozen && r.whileFrozen.submissions > 0, 'submissions while the replica hung');
        assert.equal(r.whileFrozen.scts, 0, 'no SCT for an entry committed while the only replica hung, before it resumed');
      }
    });
  }
});
