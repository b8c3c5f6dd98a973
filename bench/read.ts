// `npm run bench -- read [entries=100000]`: fills a MariaDB shard through an in-process
// ShardSequencer (the real commit path) with submissions validated from real generated chains, spawns one
// `ctlog read` process and drives it from two client threads over keep-alive connections:
// get-entries walked in pages of 256 (cold, then warm), and get-proof-by-hash for random
// leaves at the current tree size. Reports the read process's CPU per phase.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { loadSigner } from '../src/config/key-file.js';
import { ShardSequencer } from '../src/sequencer/shard-sequencer.js';
import { HeadWitness } from '../src/storage/head-witness.js';
import { b64 } from '../src/util/bytes.js';
import { benchEnv, progress } from './_harness.js';
import { CpuWatch, prepareWorkers, servicePids, type ClosedLoopResult, type GeneratedSubmissions } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

const N = Number(process.argv[2] ?? 100_000);
const PAGE = 256;
/** Client threads, and requests in flight per thread for each phase. */
const CLIENTS = 2;
const ENTRIES_IN_FLIGHT = 4;
const PROOFS_IN_FLIGHT = 32;
const PROOFS = Math.min(30_000, Math.max(5_000, N));
const FILL_BATCH = 2000;
const DEMO = join(import.meta.dirname, '..', 'demo');
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!(N > 0)) {
  console.error('usage: npm run bench -- read [entries]');
  process.exit(2);
}

/** N validated submissions from real chains under the demo root, made on two worker threads. */
async function realSubmissions(n: number): Promise<GeneratedSubmissions> {
  const now = Date.now();
  const root = loadIssuer(readFileSync(join(DEMO, 'demo-root.pem'), 'utf8'), readFileSync(join(DEMO, 'demo-root-key.pem'), 'utf8'));
  const intermediate = makeIntermediate(root, now);
  const intermediateKeyPem = intermediate.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const leafSpki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const half = Math.ceil(n / 2);
  const workers = await prepareWorkers<GeneratedSubmissions>(
    [half, n - half].map((count) => ({ job: 'subs', count, rootDer: root.der, intermediateDer: intermediate.der, intermediateKeyPem, leafSpki, notBefore: now - 3600_000, notAfter: now + 90 * 86400_000 })),
  );
  const parts = await workers.go();
  const issuers = new Map(parts.flatMap((p) => p.issuers).map((i) => [b64(i.fingerprint), i]));
  return { subs: parts.flatMap((p) => p.subs), issuers: [...issuers.values()] };
}

/** Splits paths round-robin over CLIENTS threads and merges their results; `watch` covers only the requests. */
async function drive(url: string, paths: string[], inFlight: number, watch: CpuWatch): Promise<ClosedLoopResult & { cpu: Map<string, number> }> {
  const workers = await prepareWorkers<ClosedLoopResult>(Array.from({ length: CLIENTS }, (_, w) => ({ job: 'closed', url, paths: paths.filter((_, i) => i % CLIENTS === w), concurrency: inFlight })));
  watch.begin();
  const parts = await workers.go();
  const cpu = watch.end();
  return {
    cpu,
    seconds: Math.max(...parts.map((p) => p.seconds)),
    done: parts.reduce((a, p) => a + p.done, 0),
    bytes: parts.reduce((a, p) => a + p.bytes, 0),
    bad: parts.reduce((a, p) => a + p.bad, 0),
    latencyMs: parts.flatMap((p) => p.latencyMs),
  };
}

const env = await benchEnv({ get_entries_max: PAGE });
try {
  const t = performance.now();
  log(`read: generating ${N.toLocaleString('en-US')} submissions from real chains (half precertificates, a quarter through a PSC)…`);
  const { subs, issuers } = await realSubmissions(N);
  log(`read: generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // Fill: two batches in flight so the sequencer always has the next one pooled.
  const seq = new ShardSequencer(env.storage, env.shard, loadSigner(join(env.dir, 'keys', 'bench.pem')), { witness: new HeadWitness(join(env.dir, 'witness', 'bench.json'), env.shard), poolSize: FILL_BATCH, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
  await seq.start();
  const t0 = performance.now();
  let added = 0;
  const ticker = setInterval(() => progress('filled', added, N, t0), 2000);
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < N) {
        const from = next;
        const to = Math.min(N, from + FILL_BATCH);
        next = to;
        await seq.add(subs.slice(from, to), from === 0 ? issuers : []);
        added += to - from;
      }
    }),
  );
  clearInterval(ticker);
  progress('filled', added, N, t0);
  await seq.stop();
  const head = await env.storage.currentHead(env.shard.id);
  const size = head.treeSize;
  log(`read: ${size.toLocaleString('en-US')} entries committed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const leafHashes: Uint8Array[] = [];
  for (let s = 0; s < size; s += 20_000) for (const e of await env.storage.readEntries(env.shard.id, s, Math.min(size, s + 20_000))) leafHashes.push(e.leafHash);

  const reader = await env.spawnCtlog(['read']);
  const base = `${reader.url}/bench/ct/v1`;
  const sth = (await (await fetch(`${base}/get-sth`)).json()) as { tree_size: number };
  if (sth.tree_size !== size) throw new Error(`ctlog read serves tree size ${sth.tree_size}, the database holds ${size}`);
  const watch = new CpuWatch({ 'ctlog read': [reader.child.pid!], ...servicePids() });

  const pages: string[] = [];
  for (let s = 0; s < size; s += PAGE) pages.push(`/bench/ct/v1/get-entries?start=${s}&end=${Math.min(size, s + PAGE) - 1}`);
  const proofs = Array.from({ length: PROOFS }, () => `/bench/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(leafHashes[Math.floor(Math.random() * size)]!))}&tree_size=${size}`);

  const phases: Array<{ name: string; paths: string[]; inFlight: number; items: number; unit: string; target?: number }> = [
    { name: 'get-entries cold (first walk)', paths: pages, inFlight: ENTRIES_IN_FLIGHT, items: size, unit: 'entries/s', target: 50_000 },
    { name: 'get-entries warm (second walk)', paths: pages, inFlight: ENTRIES_IN_FLIGHT, items: size, unit: 'entries/s', target: 50_000 },
    { name: `get-proof-by-hash (${PROOFS.toLocaleString('en-US')} random leaves)`, paths: proofs, inFlight: PROOFS_IN_FLIGHT, items: PROOFS, unit: 'req/s', target: 5_000 },
  ];
  const rows: Row[] = [];
  const cpuRows: Row[] = [];
  let bad = 0;
  for (const p of phases) {
    log(`read: ${p.name}: ${p.paths.length.toLocaleString('en-US')} requests, ${CLIENTS * p.inFlight} in flight`);
    const r = await drive(reader.url, p.paths, p.inFlight, watch);
    bad += r.bad;
    rows.push(
      { figure: p.name, value: p.items / r.seconds, unit: p.unit, target: p.target, goal: 'min' },
      { figure: `  latency p50`, value: percentile(r.latencyMs, 50), unit: 'ms' },
      { figure: `  latency p99`, value: percentile(r.latencyMs, 99), unit: 'ms' },
    );
    if (p.unit === 'entries/s') rows.push({ figure: '  response bytes/s', value: r.bytes / r.seconds / 1e6, unit: 'MB/s' });
    for (const [name, s] of r.cpu) cpuRows.push({ figure: `${p.name}: ${name}`, value: s / r.seconds, unit: `cores (${s.toFixed(1)} CPU-s in ${r.seconds.toFixed(1)} s)` });
  }
  rows.push({ figure: 'non-200 answers', value: bad, unit: 'requests', target: 0, goal: 'max' });
  const ok = printTable(`read: one \`ctlog read\` process over MariaDB, ${size.toLocaleString('en-US')} entries, ${CLIENTS} client threads (shared 2-core box)`, rows);
  printTable('read: CPU per phase (MariaDB/Redis figures include any other tenant\'s load)', cpuRows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
