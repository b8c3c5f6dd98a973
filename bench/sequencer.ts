// `npm run bench -- sequencer [entries]`: entries/s committed to MariaDB through BullMQ by a
// `ctlog sequencer` process (submissions pre-validated: this measures queue + sequencing +
// storage, not chain checks), SCT latency percentiles, and MariaDB bytes per entry for a
// realistic mix (half precertificates, 1.0–1.7 KB certificates, a handful of issuers).
import { createHash, randomBytes } from 'node:crypto';
import { BullSubmissionQueue } from '../src/queue/bullmq-queue.js';
import type { Issuer, Submission } from '../src/queue/submission.js';
import { REDIS_URL, benchEnv, progress } from './_harness.js';
import { percentile, printTable } from './table.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const IN_FLIGHT = 4000;
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

const issuers: Issuer[] = Array.from({ length: 5 }, () => {
  const der = new Uint8Array(randomBytes(1100 + Math.floor(Math.random() * 400)));
  return { fingerprint: sha(der), der };
});

function submission(i: number): Submission {
  const cert = new Uint8Array(randomBytes(1000 + Math.floor(Math.random() * 700)));
  const issuer = issuers[i % issuers.length]!;
  const chain = [issuer.fingerprint, issuers[0]!.fingerprint];
  if (i % 2 === 0) return { identity: sha(cert), entry: { type: 'x509', certificate: cert }, cert, chain };
  // A precertificate's logged TBS is ~60 bytes shorter than the precertificate DER.
  return { identity: sha(cert), entry: { type: 'precert', issuerKeyHash: sha(issuer.der), tbsCertificate: cert.subarray(0, cert.length - 60) }, cert, chain };
}

const env = await benchEnv({ pool_size: 2000, pool_period_ms: 20 });
try {
  await env.spawnCtlog(['sequencer']);
  const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: env.prefix, lingerMs: 5, maxBatch: 500, maxInFlight: IN_FLIGHT * 2 });
  // Warm up: store the issuers, open the connections.
  await Promise.all(issuers.map((_, i) => queue.submit('bench', submission(i), issuers, 30_000)));
  const subs = Array.from({ length: TOTAL }, (_, i) => submission(i + 10));
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const started = performance.now();
  const ticker = setInterval(() => progress('sequenced', done, TOTAL, started), 2000);
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < subs.length) {
        const s = subs[next++]!;
        const t0 = performance.now();
        await queue.submit('bench', s, [], 60_000);
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  clearInterval(ticker);
  progress('sequenced', done, TOTAL, started);
  await queue.close();

  const head = await env.storage.currentHead(env.shard.id);
  const sizes = await env.storage.tableBytes();
  const logTables = ['entries', 'tiles', 'issuers', 'tree_heads', 'shards'];
  const total = logTables.reduce((a, t) => a + (sizes[t]?.data ?? 0) + (sizes[t]?.index ?? 0), 0);
  const entries = sizes.entries!;
  const ok = printTable(`sequencer: ${TOTAL.toLocaleString('en-US')} pre-validated submissions through BullMQ into MariaDB (${IN_FLIGHT} in flight)`, [
    { figure: 'entries committed per second', value: TOTAL / secs, unit: 'entries/s', target: 5000, goal: 'min' },
    { figure: 'SCT latency p50', value: percentile(latencies, 50), unit: 'ms' },
    { figure: 'SCT latency p99', value: percentile(latencies, 99), unit: 'ms' },
    { figure: 'tree size', value: head.treeSize, unit: 'entries' },
    { figure: 'entries table data per entry', value: entries.data / head.treeSize, unit: 'bytes' },
    { figure: 'entries table indexes per entry', value: entries.index / head.treeSize, unit: 'bytes' },
    { figure: 'all log tables (data + index) per entry', value: total / head.treeSize, unit: 'bytes', target: 2048, goal: 'max' },
    { figure: 'mean certificate DER size', value: 1350, unit: 'bytes' },
  ]);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
