// `npm run bench -- read [entries=100000]`: fills a MariaDB shard through an in-process
// ShardSequencer (the real commit path) with submissions validated from real generated chains, spawns one
// `ctlog read` process (CTLOG_BENCH_WORKERS=N: `--workers N`) and drives it from two client threads over keep-alive connections:
// get-entries walked in pages of 256 (cold, then warm), and get-proof-by-hash for random
// leaves at the current tree size. Reports the read process's CPU per phase.
//
// Each figure is printed beside limits measured in the same run, since this box's speed
// varies by ±30 % and is shared:
//  - get-entries: the same pages of rows fetched from MariaDB with mysql2 alone, with as many
//    in flight (what the read server could do if building and sending a page were free);
//  - get-proof-by-hash: a do-nothing HTTP server (node:http, one process, same answer size)
//    driven by the same client threads, which no read server on this box can outrun; and
//    the leaf-hash lookups it needs, made with mysql2 alone in batches as the server makes them.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { loadSigner } from '../src/config/key-file.js';
import { ShardSequencer } from '../src/sequencer/shard-sequencer.js';
import { HeadWitness } from '../src/storage/head-witness.js';
import { mysqlConnection } from '../src/storage/mysql-url.js';
import { b64 } from '../src/util/bytes.js';
import { benchEnv, progress } from './_harness.js';
import { CpuWatch, prepareWorkers, servicePids, withDescendants, type ClosedLoopResult, type GeneratedSubmissions } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

const N = Number(process.argv[2] ?? 100_000);
const PAGE = 256;
/** Client threads, and requests in flight per thread for each phase. */
const CLIENTS = 2;
/** `ctlog read --workers`: CTLOG_BENCH_WORKERS, else 1 (the command's own default). */
const READ_WORKERS = Number(process.env.CTLOG_BENCH_WORKERS ?? 1);
const ENTRIES_IN_FLIGHT = 4;
const PROOFS_IN_FLIGHT = 32;
const PROOFS = Math.min(30_000, Math.max(5_000, N));
const FILL_BATCH = 2000;
const DEMO = join(import.meta.dirname, '..', 'demo');
const log = (s: string) => process.stderr.write(`${s}\n`);
/** Leaf hashes per lookup query, as src/read/leaf-index-batcher.ts batches them. */
const LOOKUP_BATCH = 500;

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

type Pool = ReturnType<typeof mysql.createPool>;

/**
 * The get-entries limit: every page of PAGE rows (the columns the read server selects) fetched
 * with mysql2 alone, CLIENTS * ENTRIES_IN_FLIGHT pages in flight over as many connections.
 * Both protocols are tried (text `query`, which knex uses, and prepared `execute`); the
 * faster is the limit.
 */
async function rawPageRates(pool: Pool, shardId: number, size: number): Promise<{ query: number; execute: number; cpuUs: { query: number; execute: number } }> {
  const out = { query: 0, execute: 0, cpuUs: { query: 0, execute: 0 } };
  const sql = 'SELECT idx, leaf_hash, identity, timestamp, entry_type, cert, chain, rebuild FROM entries WHERE shard_id = ? AND idx >= ? AND idx < ? ORDER BY idx';
  // A first untimed pass, so that both protocols (and the read server after them) find the
  // same pages in MariaDB's buffer pool: "cold" is about the read server's caches.
  for (const how of ['warm-up', 'query', 'execute'] as const) {
    let next = 0;
    let rows = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CLIENTS * ENTRIES_IN_FLIGHT }, async () => {
        while (next < size) {
          const s = next;
          next += PAGE;
          const [r] = how === 'execute' ? await pool.execute(sql, [shardId, s, Math.min(size, s + PAGE)]) : await pool.query(sql, [shardId, s, Math.min(size, s + PAGE)]);
          rows += (r as unknown[]).length;
        }
      }),
    );
    if (rows !== size) throw new Error(`raw page fetch: ${rows} rows of ${size}`);
    if (how === 'warm-up') continue;
    out[how] = size / ((performance.now() - t0) / 1000);
    const cpu = process.cpuUsage(cpu0);
    out.cpuUs[how] = (cpu.user + cpu.system) / size;
  }
  return out;
}

/** The get-proof-by-hash lookup limit: the same leaf hashes' indexes, LOOKUP_BATCH per query, as many queries in flight as the pool has connections. */
async function rawLookupRate(pool: Pool, shardId: number, hashes: Uint8Array[]): Promise<number> {
  let next = 0;
  let found = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS * ENTRIES_IN_FLIGHT }, async () => {
      while (next < hashes.length) {
        const batch = hashes.slice(next, next + LOOKUP_BATCH).map((h) => Buffer.from(h));
        next += LOOKUP_BATCH;
        const [r] = await pool.query('SELECT idx, leaf_hash FROM entries WHERE shard_id = ? AND leaf_hash IN (?)', [shardId, batch]);
        found += (r as unknown[]).length;
      }
    }),
  );
  if (found < new Set(hashes.map((h) => b64(h))).size) throw new Error(`raw lookups found ${found} of ${hashes.length} leaf hashes`);
  return hashes.length / ((performance.now() - t0) / 1000);
}

/** A node:http server that answers every request with `body` and does nothing else, in its own process. */
async function noopServer(body: string): Promise<{ url: string; pid: number; stop(): void }> {
  const src = `const b = Buffer.from(${JSON.stringify(body)});
require('node:http').createServer((q, s) => { s.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': b.length }); s.end(b); })
  .listen(0, '127.0.0.1', function () { console.log('listening on http://127.0.0.1:' + this.address().port); });`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d: Buffer) => {
      const m = /listening on (\S+)/.exec(d.toString());
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`no-op server exited with ${code}`)));
  });
  return { url, pid: child.pid!, stop: () => child.kill() };
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

  const reader = await env.spawnCtlog(['read', '--workers', String(READ_WORKERS)]);
  const base = `${reader.url}/bench/ct/v1`;
  const sth = (await (await fetch(`${base}/get-sth`)).json()) as { tree_size: number };
  if (sth.tree_size !== size) throw new Error(`ctlog read serves tree size ${sth.tree_size}, the database holds ${size}`);
  // The read process with its workers (--workers), counted as one.
  const watch = new CpuWatch({ 'ctlog read': withDescendants(reader.child.pid!), ...servicePids() });

  const pages: string[] = [];
  for (let s = 0; s < size; s += PAGE) pages.push(`/bench/ct/v1/get-entries?start=${s}&end=${Math.min(size, s + PAGE) - 1}`);
  const proofHashes = Array.from({ length: PROOFS }, () => leafHashes[Math.floor(Math.random() * size)]!);
  const proofs = proofHashes.map((h) => `/bench/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(h))}&tree_size=${size}`);

  const pool = mysql.createPool({ ...mysqlConnection(env.dbUrl), connectionLimit: CLIENTS * ENTRIES_IN_FLIGHT, supportBigNumbers: true } as mysql.PoolOptions);
  const rows: Row[] = [];
  const cpuRows: Row[] = [];
  let bad = 0;
  const phase = async (name: string, paths: string[], inFlight: number, url = reader.url, w = watch) => {
    log(`read: ${name}: ${paths.length.toLocaleString('en-US')} requests, ${CLIENTS * inFlight} in flight`);
    const r = await drive(url, paths, inFlight, w);
    bad += r.bad;
    for (const [k, v] of r.cpu) cpuRows.push({ figure: `${name}: ${k}`, value: v / r.seconds, unit: `cores (${v.toFixed(1)} CPU-s in ${r.seconds.toFixed(1)} s)` });
    return r;
  };
  const latencies = (r: ClosedLoopResult): Row[] => [
    { figure: '  latency p50', value: percentile(r.latencyMs, 50), unit: 'ms' },
    { figure: '  latency p99', value: percentile(r.latencyMs, 99), unit: 'ms' },
  ];
  try {
    log('read: the same pages fetched with mysql2 alone…');
    const raw = await rawPageRates(pool, env.shard.id, size);
    const rawBest = Math.max(raw.query, raw.execute);
    const cold = await phase('get-entries cold (first walk)', pages, ENTRIES_IN_FLIGHT);
    const warm = await phase('get-entries warm (second walk)', pages, ENTRIES_IN_FLIGHT);
    const proofName = `get-proof-by-hash (${PROOFS.toLocaleString('en-US')} random leaves)`;
    const proof = await phase(proofName, proofs, PROOFS_IN_FLIGHT);
    const sample = await (await fetch(`${reader.url}${proofs[0]}`)).text();
    const noop = await noopServer(sample);
    let floor: Awaited<ReturnType<typeof phase>>;
    try {
      floor = await phase('do-nothing HTTP server, same requests', proofs, PROOFS_IN_FLIGHT, noop.url, new CpuWatch({ 'do-nothing server': [noop.pid] }));
    } finally {
      noop.stop();
    }
    const lookups = await rawLookupRate(pool, env.shard.id, proofHashes);
    const coldRate = size / cold.seconds;
    const proofRate = PROOFS / proof.seconds;
    const floorRate = PROOFS / floor.seconds;
    rows.push(
      { figure: 'get-entries cold (first walk)', value: coldRate, unit: 'entries/s' },
      { figure: '  raw limit: same pages, mysql2 alone', value: rawBest, unit: 'rows/s' },
      { figure: '    of which text query / prepared execute', value: raw.query, unit: `/ ${Math.round(raw.execute).toLocaleString('en-US')} rows/s` },
      { figure: '  ratio to the raw limit', value: coldRate / rawBest, unit: 'x raw', target: 0.8, goal: 'min' },
      { figure: '  CPU per entry: ctlog read / raw mysql2 client', value: ((cold.cpu.get('ctlog read') ?? NaN) / size) * 1e6, unit: `/ ${Math.min(raw.cpuUs.query, raw.cpuUs.execute).toFixed(1)} µs` },
      ...latencies(cold),
      { figure: '  response bytes/s', value: cold.bytes / cold.seconds / 1e6, unit: 'MB/s' },
      { figure: 'get-entries warm (second walk)', value: size / warm.seconds, unit: 'entries/s', target: 50_000, goal: 'min' },
      { figure: '  ratio to the raw limit', value: size / warm.seconds / rawBest, unit: 'x raw' },
      ...latencies(warm),
      { figure: proofName, value: proofRate, unit: 'req/s', target: 10_000, goal: 'min' },
      { figure: '  limit: do-nothing HTTP server, same clients', value: floorRate, unit: 'req/s' },
      { figure: '  ratio to the do-nothing server', value: proofRate / floorRate, unit: 'x' },
      { figure: '  CPU per request: ctlog read / do-nothing server', value: ((proof.cpu.get('ctlog read') ?? NaN) / PROOFS) * 1e6, unit: `/ ${(((floor.cpu.get('do-nothing server') ?? NaN) / PROOFS) * 1e6).toFixed(1)} µs` },
      { figure: '  limit: its leaf-hash lookups, mysql2 alone', value: lookups, unit: 'lookups/s' },
      ...latencies(proof),
    );
  } finally {
    await pool.end();
  }
  rows.push({ figure: 'non-200 answers', value: bad, unit: 'requests', target: 0, goal: 'max' });
  const ok = printTable(`read: \`ctlog read --workers ${READ_WORKERS}\` over MariaDB, ${size.toLocaleString('en-US')} entries, ${CLIENTS} client threads (shared 2-core box)`, rows);
  printTable('read: CPU per phase (MariaDB/Redis figures include any other tenant\'s load)', cpuRows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
