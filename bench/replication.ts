// `npm run bench -- replication [entries]`: the cost of "no SCT that only one machine holds".
// A MariaDB primary and one replica of this benchmark's own (test/helpers/mariadb-server.ts),
// and the sequencer committing the same kind of load twice in one run:
//  - with the acknowledgement: semi-synchronous replication (AFTER_SYNC), and the per-batch
//    Rpl_semi_sync_master_status check before SCTs are released (log.require_replica_ack);
//  - without it: the same servers with semi-sync switched off (asynchronous replication), no check.
// Printed side by side, with the ratio, and the cost of the status check alone.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import type { Submission } from '../src/queue/submission.js';
import { ShardSequencer } from '../src/sequencer/shard-sequencer.js';
import { createSigner, generateLogKey } from '../src/signing/index.js';
import { ensureMysqlDatabase, migrate, openDatabase } from '../src/storage/database.js';
import { HeadWitness } from '../src/storage/head-witness.js';
import { LogStorage } from '../src/storage/log-storage.js';
import { semiSyncAck } from '../src/storage/replication.js';
import { createShard } from '../src/storage/shard-init.js';
import { replicatedSet } from '../test/helpers/mariadb-server.js';
import { ISSUERS, syntheticSubmission } from '../test/helpers/synthetic.js';
import { progress } from './_harness.js';
import { percentile, printTable, type Row } from './table.js';

const TOTAL = Number(process.argv[2] ?? 40_000);
const IN_FLIGHT = 2000;

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
}

async function run(name: string, url: string, ack: boolean, subs: Submission[]): Promise<Run> {
  await ensureMysqlDatabase(url);
  const storage = new LogStorage(openDatabase({ url, dataDir: '/tmp', poolSize: 8 }));
  try {
    await migrate(storage.knex);
    const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));
    const shard = await createShard(storage, name, signer, Date.now());
    const seq = new ShardSequencer(storage, shard, signer, {
      witness: new HeadWitness(join(mkdtempSync(join(tmpdir(), 'ctlog-bench-')), 'witness.json'), shard),
      replicaAck: ack ? await semiSyncAck(storage.knex) : undefined,
      poolSize: 1000,
      poolPeriodMs: 25,
      sthIntervalMs: 60_000,
      clock: Date.now,
    });
    await seq.start();
    await seq.add(subs.slice(0, 10), ISSUERS); // warm-up: issuers stored, connections open
    const latencies: number[] = [];
    let next = 10;
    let done = 0;
    const started = performance.now();
    const ticker = setInterval(() => progress(`${name}: sequenced`, done, subs.length - 10, started), 2000);
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < subs.length) {
          const s = subs[next++]!;
          const t0 = performance.now();
          await seq.add([s], []);
          latencies.push(performance.now() - t0);
          done++;
        }
      }),
    );
    const secs = (performance.now() - started) / 1000;
    clearInterval(ticker);
    await seq.stop();
    return { perSecond: done / secs, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  } finally {
    await storage.knex.destroy();
  }
}

const set = await replicatedSet(1, 1000);
try {
  const make = (from: number) => Array.from({ length: TOTAL + 10 }, (_, i) => syntheticSubmission(from + i).sub);
  process.stderr.write(`replication: primary on :${set.primary.port}, replica on :${set.replicas[0]!.port}; ${TOTAL.toLocaleString('en-US')} entries per run, ${IN_FLIGHT} in flight\n`);

  // The check alone: one status query per batch.
  const probe = new LogStorage(openDatabase({ url: set.primary.url('mysql'), dataDir: '/tmp', poolSize: 1 }));
  const check = await semiSyncAck(probe.knex);
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) await check.confirm();
  const checkMs = (performance.now() - t0) / 500;
  await probe.knex.destroy();

  const withAck = await run('ack', set.primary.url('ctlog_bench_ack'), true, make(0));
  set.primary.sql('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
  const without = await run('async', set.primary.url('ctlog_bench_async'), false, make(10_000_000));
  set.primary.sql('SET GLOBAL rpl_semi_sync_master_enabled = ON');

  const rows: Row[] = [
    { figure: 'entries/s with replica acknowledgement (semi-sync AFTER_SYNC + check)', value: withAck.perSecond, unit: 'entries/s' },
    { figure: 'entries/s without (asynchronous replication, no check), same run', value: without.perSecond, unit: 'entries/s' },
    // The servers are this benchmark's own, untuned and co-located: the ratio is the figure.
    { figure: '  with / without', value: withAck.perSecond / without.perSecond, unit: 'ratio', target: 0.8, goal: 'min' },
    { figure: 'SCT latency p50 with acknowledgement', value: withAck.p50, unit: 'ms' },
    { figure: 'SCT latency p50 without', value: without.p50, unit: 'ms' },
    { figure: 'SCT latency p99 with acknowledgement', value: withAck.p99, unit: 'ms' },
    { figure: 'SCT latency p99 without', value: without.p99, unit: 'ms' },
    { figure: 'the per-batch status check alone', value: checkMs * 1000, unit: 'µs' },
  ];
  process.exitCode = printTable(`replication: the cost of an SCT only for commits a replica holds (${IN_FLIGHT} submissions in flight, pool 1000 / 25 ms)`, rows) ? 0 : 1;
} finally {
  await set.close();
}
