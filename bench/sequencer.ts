// `npm run bench -- sequencer [entries]`: entries/s committed to MariaDB through BullMQ by a
// `ctlog sequencer` process (submissions pre-validated: this measures queue + sequencing +
// storage, not chain checks), SCT latency percentiles, and MariaDB bytes per entry for a
// realistic mix (precertificates and their final certificates, four intermediates).
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { issue, loadIssuer, makeIntermediate, typicalLeafExtensions } from '../src/cli/cert-factory.js';
import { identityHash, parseCertificate, precertTbs } from '../src/x509/index.js';
import { BullSubmissionQueue } from '../src/queue/bullmq-queue.js';
import type { Issuer, Submission } from '../src/queue/submission.js';
import { REDIS_URL, benchEnv, progress } from './_harness.js';
import { percentile, printTable } from './table.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const IN_FLIGHT = 4000;
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

// A realistic mix: pairs of a precertificate and its final certificate (with an embedded SCT
// list), ~1.2–1.5 KB each, from four intermediates (two RSA, two ECDSA) under one root.
const DEMO = resolve(import.meta.dirname, '../demo');
const root = loadIssuer(readFileSync(resolve(DEMO, 'demo-root.pem'), 'utf8'), readFileSync(resolve(DEMO, 'demo-root-key.pem'), 'utf8'));
const now = Date.now();
// Half RSA, half ECDSA, as in the Web PKI: RSA-2048 intermediates sign RSA-2048 leaves.
const intermediates = (['ec', 'rsa', 'ec', 'rsa'] as const).map((t) => makeIntermediate(root, now, t));
const issuers: Issuer[] = [...intermediates, root].map((c) => ({ fingerprint: sha(c.der), der: c.der }));
// Every leaf needs its own key bytes, or the database's compression would see the same key
// in every row: real P-256 / RSA-2048 SPKI structures with random point / modulus bytes.
const spkiTemplates = {
  ec: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' })),
  rsa: new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' })),
};
function randomSpki(type: 'ec' | 'rsa'): Uint8Array {
  const t = spkiTemplates[type].slice();
  // EC: the 64 bytes of X || Y end the SPKI. RSA: 255 modulus bytes before the 5-byte exponent.
  const [from, to] = type === 'ec' ? [t.length - 64, t.length] : [t.length - 5 - 255, t.length - 5];
  t.set(randomBytes(to - from), from);
  return t;
}

function pair(i: number): Submission[] {
  const inter = intermediates[i % intermediates.length]!;
  const chain = [sha(inter.der), sha(root.der)];
  const cn = `${randomBytes(8).toString('hex')}.bench.example`;
  const spki = randomSpki(i % 2 === 1 ? 'rsa' : 'ec');
  const common = { cn, notBefore: now - 3600_000, notAfter: now + 90 * 86400_000, spki, dnsNames: [cn, `www.${cn}`] };
  const pre = issue(inter, { ...common, precert: true, extensions: typicalLeafExtensions(false) });
  const fin = issue(inter, { ...common, extensions: typicalLeafExtensions(true) });
  const { tbs, issuerKeyHash } = precertTbs(parseCertificate(pre.der), parseCertificate(inter.der));
  const preEntry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs } as const;
  const finEntry = { type: 'x509', certificate: fin.der } as const;
  return [
    { identity: identityHash(preEntry), entry: preEntry, cert: pre.der, chain },
    { identity: identityHash(finEntry), entry: finEntry, cert: fin.der, chain },
  ];
}

const env = await benchEnv({ pool_size: 2000, pool_period_ms: 20 });
try {
  await env.spawnCtlog(['sequencer']);
  const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: env.prefix, lingerMs: 5, maxBatch: 500, maxInFlight: IN_FLIGHT * 2, queueKey: env.queueKey });
  // Warm up: store the issuers, open the connections.
  await Promise.all(pair(0).map((s) => queue.submit('bench', s, issuers, 30_000)));
  const genStart = performance.now();
  const subs: Submission[] = [];
  for (let i = 0; subs.length < TOTAL; i++) subs.push(...pair(i));
  const certBytes = subs.reduce((a, s) => a + s.cert.length, 0) / subs.length;
  process.stderr.write(`generated ${subs.length.toLocaleString('en-US')} certificates and precertificates in ${((performance.now() - genStart) / 1000).toFixed(1)} s\n`);
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
    { figure: 'mean submitted DER size (certs and precerts)', value: certBytes, unit: 'bytes' },
  ]);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
