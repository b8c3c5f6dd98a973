// `npm run bench -- lifecycle [entries=200000]` (`1000000` for the issue's full size): fills a
// MariaDB shard through the storage layer, spawns one `ctlog read` process, measures
// get-entries and get-proof-by-hash served from MariaDB, then freezes the shard, exports it
// (entries/s, MB/s, verification included), prunes it (time, bytes freed per entry), waits for
// the same read process to move the shard to its export, and measures the same reads served
// from the export. Entries are synthetic x509 entries of ~1.3 KB random certificate bytes
// (random bytes compress worse than real certificates: bytes per entry are an upper bound).
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadSigner } from '../src/config/key-file.js';
import { exportShard } from '../src/read/index.js';
import { appendLeaves, emptyEdge, leafHash } from '../src/merkle/index.js';
import type { EntryRecord, TreeHead } from '../src/storage/log-storage.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf } from '../src/tls/index.js';
import type { Issuer, Submission } from '../src/queue/submission.js';
import { deleteShardRows, freezeShard, moveState, recordExport, shardBytes } from '../src/storage/shard-lifecycle.js';
import { b64 } from '../src/util/bytes.js';
import { benchEnv, progress } from './_harness.js';
import { CpuWatch, prepareWorkers, servicePids, type ClosedLoopResult } from './_load.js';
import { printTable, type Row } from './table.js';

const N = Number(process.argv[2] ?? 200_000);
const PAGE = 256;
const CLIENTS = 2;
const PROOFS = 20_000;
const log = (s: string) => process.stderr.write(`${s}\n`);
if (!(N > 0)) {
  console.error('usage: npm run bench -- lifecycle [entries]   (default 200000; the issue asks for 1000000)');
  process.exit(2);
}

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const ISSUERS: Issuer[] = Array.from({ length: 4 }, (_, i) => {
  const der = new Uint8Array(randomBytes(1100 + i));
  return { fingerprint: sha(der), der };
});
function submission(i: number): Submission {
  const cert = new Uint8Array(randomBytes(1300));
  return { identity: sha(cert), entry: { type: 'x509', certificate: cert }, cert, chain: [ISSUERS[i % 4]!.fingerprint] };
}

async function drive(url: string, paths: string[], inFlight: number, watch: CpuWatch) {
  const workers = await prepareWorkers<ClosedLoopResult>(Array.from({ length: CLIENTS }, (_, w) => ({ job: 'closed', url, paths: paths.filter((_, i) => i % CLIENTS === w), concurrency: inFlight })));
  watch.begin();
  const parts = await workers.go();
  const cpu = watch.end();
  return { cpu, seconds: Math.max(...parts.map((p) => p.seconds)), bad: parts.reduce((a, p) => a + p.bad, 0), bytes: parts.reduce((a, p) => a + p.bytes, 0) };
}

const env = await benchEnv({ get_entries_max: PAGE });
try {
  const signer = loadSigner(join(env.dir, 'keys', 'bench.pem'));
  // Filled through the storage layer (the sequencer's commit without its per-entry SCT
  // signatures, which would dominate the fill): leaves, tiles and a signed STH per batch.
  const t0 = performance.now();
  let edge = emptyEdge();
  let head = await env.storage.currentHead(env.shard.id);
  for (let done = 0; done < N; ) {
    const k = Math.min(5000, N - done);
    const timestamp = Math.max(Date.now(), head.timestamp + 1);
    const entries: EntryRecord[] = [];
    for (let i = 0; i < k; i++) {
      const idx = done + i;
      const sub = submission(idx);
      const cert = sub.cert;
      const leaf = encodeMerkleTreeLeaf({ timestamp, entry: { type: 'x509', certificate: cert }, extensions: encodeCtExtensions({ leafIndex: idx }) });
      entries.push({ idx, leafHash: leafHash(leaf), identity: sub.identity, timestamp, entryType: 0, cert, chain: sub.chain, rebuild: 1 });
    }
    const r = appendLeaves(edge, entries.map((e) => e.leafHash));
    const next: TreeHead = { treeSize: done + k, timestamp, rootHash: r.root, signature: new Uint8Array() };
    next.signature = await signer.signSth(next);
    await env.storage.appendBatch(env.shard.id, { expected: head, entries, issuers: done === 0 ? ISSUERS : [], tiles: r.changed, head: next });
    edge = r.edge;
    head = next;
    done += k;
    if (done % 50_000 < 5000 || done === N) progress('lifecycle: filled', done, N, t0);
  }
  const size = (await env.storage.currentHead(env.shard.id)).treeSize;
  const leafHashes: Uint8Array[] = [];
  for (let s = 0; s < size; s += 20_000) for (const e of await env.storage.readEntries(env.shard.id, s, Math.min(size, s + 20_000))) leafHashes.push(e.leafHash);

  const reader = await env.spawnCtlog(['read']);
  const watch = new CpuWatch({ 'ctlog read': [reader.child.pid!], ...servicePids() });
  const pages: string[] = [];
  for (let s = 0; s < size; s += PAGE) pages.push(`/bench/ct/v1/get-entries?start=${s}&end=${Math.min(size, s + PAGE) - 1}`);
  const proofs = Array.from({ length: PROOFS }, () => `/bench/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(leafHashes[Math.floor(Math.random() * size)]!))}&tree_size=${size}`);
  const reads = async (from: string) => {
    log(`lifecycle: reads from ${from}: get-entries walk (${pages.length} pages), ${PROOFS} get-proof-by-hash`);
    const e = await drive(reader.url, pages, 4, watch);
    const p = await drive(reader.url, proofs, 32, watch);
    return { entries: size / e.seconds, proofs: PROOFS / p.seconds, bad: e.bad + p.bad };
  };
  // Freeze first, so both measurements read the same final tree.
  await freezeShard(env.storage, 'bench', signer, Date.now, { settleMs: 0 });
  const fromDb = await reads('MariaDB');

  const shard = (await env.storage.getShard('bench'))!;
  const exportDir = join(env.dir, 'export');
  log(`lifecycle: exporting ${size} entries to ${exportDir}`);
  const te = performance.now();
  let lastPhase = '';
  const ex = await exportShard({
    storage: env.storage, shard, origin: 'bench.example/bench', dir: exportDir,
    onProgress: (p) => {
      if (p.phase !== lastPhase || p.done === p.total) log(`  ${p.phase} ${p.done}/${p.total}`);
      lastPhase = p.phase;
    },
  });
  const exportSeconds = (performance.now() - te) / 1000;
  await recordExport(env.storage, shard.id, exportDir, ex.manifestSha256, Date.now());

  const before = await shardBytes(env.storage, shard.id);
  await moveState(env.storage, shard.id, ['exported'], 'pruned', Date.now());
  // The read process polls the state every 2 s: let it move to the export before the rows go.
  for (let i = 0; i < 100; i++) {
    const m = (await (await fetch(`${reader.url}/bench/log.v3.json`)).json()) as { ctlog_state: string };
    if (m.ctlog_state === 'pruned') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  const tp = performance.now();
  await deleteShardRows(env.storage, shard);
  const pruneSeconds = (performance.now() - tp) / 1000;
  const after = await shardBytes(env.storage, shard.id);
  const fromExport = await reads('the export');

  const rows: Row[] = [
    { figure: 'export (write + verify)', value: size / exportSeconds, unit: 'entries/s' },
    { figure: '  export bytes written', value: ex.manifest.bytes / 1e6 / exportSeconds, unit: `MB/s (${(ex.manifest.bytes / 1e6).toFixed(0)} MB in ${exportSeconds.toFixed(1)} s)` },
    { figure: 'prune (drop the shard partitions)', value: pruneSeconds, unit: 's' },
    { figure: '  bytes freed per entry', value: (before.bytes - after.bytes) / size, unit: `bytes (${(before.bytes / 1e6).toFixed(0)} -> ${(after.bytes / 1e6).toFixed(1)} MB)` },
    { figure: 'get-entries from MariaDB', value: fromDb.entries, unit: 'entries/s' },
    { figure: 'get-entries from the export', value: fromExport.entries, unit: 'entries/s', target: fromDb.entries * 0.5, goal: 'min' },
    { figure: 'get-proof-by-hash from MariaDB', value: fromDb.proofs, unit: 'req/s' },
    { figure: 'get-proof-by-hash from the export', value: fromExport.proofs, unit: 'req/s', target: fromDb.proofs * 0.5, goal: 'min' },
    { figure: 'non-200 answers', value: fromDb.bad + fromExport.bad, unit: 'requests', target: 0, goal: 'max' },
  ];
  const ok = printTable(`lifecycle: ${size.toLocaleString('en-US')} entries on MariaDB, one \`ctlog read\`, ${CLIENTS} client threads (shared 2-core box: noisy; the export targets are half the MariaDB figure of the same run)`, rows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
