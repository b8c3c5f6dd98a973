// Read-path throughput on MariaDB (not part of the suite; run by hand):
//   node --import tsx test/read/bench-read.ts [entries=100000]
// Fills a fresh database through the sequencer, serves it with createReader in this
// process, and drives it from a worker thread (keep-alive, 64 requests in flight):
// get-entries walked page by page (cold, then from the page cache), and get-proof-by-hash
// for random leaves.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { createReader } from '../../src/read/index.js';
import { b64 } from '../../src/util/bytes.js';
import { freshDb } from '../helpers/services.js';
import { fillLog } from './fill-log.js';

const N = Number(process.argv[2] ?? 100_000);
/** Comma-separated phases to run: entries, proofs, sth. */
const ONLY = new Set((process.argv[3] ?? 'entries,proofs,sth').split(','));

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: workerData.concurrency });
const paths = workerData.paths;
let next = 0, done = 0, bytes = 0, bad = 0;
const t0 = performance.now();
function one() {
  if (next >= paths.length) return Promise.resolve();
  const p = paths[next++];
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: workerData.port, path: p, agent }, (res) => {
      if (res.statusCode !== 200) bad++;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => { done++; resolve(); });
    });
  }).then(one);
}
Promise.all(Array.from({ length: workerData.concurrency }, one)).then(() => {
  parentPort.postMessage({ seconds: (performance.now() - t0) / 1000, done, bytes, bad });
  agent.destroy();
});
`;

function drive(port: number, paths: string[], concurrency = 64): Promise<{ seconds: number; done: number; bytes: number; bad: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { port, paths, concurrency } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

const db = await freshDb('mysql');
try {
  let t = performance.now();
  const batches = Array.from({ length: Math.ceil(N / 2000) }, () => 2000);
  const log = await fillLog(db.storage, batches, { getEntriesMax: 256 });
  await log.stop();
  const size = (await db.storage.currentHead(log.shard.id)).treeSize;
  console.log(`filled ${size} entries in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const reader = createReader({ storage: db.open(), shards: [log.rt], clock: () => Date.now() });
  const server = createServer((req, res) => {
    if (!reader.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const pages: string[] = [];
  for (let s = 0; s < size; s += 256) pages.push(`/2027h1/ct/v1/get-entries?start=${s}&end=${s + 255}`);
  for (const pass of ONLY.has('entries') ? ['cold', 'cached'] : []) {
    const prof = pass === 'cold' && process.env.CPUPROF ? new Session() : undefined;
    if (prof) {
      prof.connect();
      await prof.post('Profiler.enable');
      await prof.post('Profiler.start');
    }
    const r = await drive(port, pages, 8);
    if (prof) writeFileSync('/tmp/read-entries.cpuprofile', JSON.stringify((await prof.post('Profiler.stop')).profile));
    console.log(`get-entries ${pass}: ${(size / r.seconds).toFixed(0)} entries/s (${r.done} pages, ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s, ${r.bad} non-200)`);
  }

  const entries = await db.storage.readEntries(log.shard.id, 0, size);
  const proofs = Array.from({ length: 30_000 }, () => {
    const e = entries[Math.floor(Math.random() * size)]!;
    return `/2027h1/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(e.leafHash))}&tree_size=${size}`;
  });
  for (const pass of ONLY.has('proofs') ? ['first', 'second'] : []) {
    // CPUPROF=1: a CPU profile of the second pass, in /tmp/read-proofs.cpuprofile.
    const prof = pass === 'second' && process.env.CPUPROF ? new Session() : undefined;
    if (prof) {
      prof.connect();
      await prof.post('Profiler.enable');
      await prof.post('Profiler.start');
    }
    const r = await drive(port, proofs);
    if (prof) writeFileSync('/tmp/read-proofs.cpuprofile', JSON.stringify((await prof.post('Profiler.stop')).profile));
    console.log(`get-proof-by-hash ${pass}: ${(r.done / r.seconds).toFixed(0)} req/s (${r.bad} non-200)`);
  }
  const sth = Array.from({ length: 20_000 }, () => '/2027h1/ct/v1/get-sth');
  const r = await drive(port, ONLY.has('sth') ? sth : []);
  if (ONLY.has('sth')) console.log(`get-sth: ${(r.done / r.seconds).toFixed(0)} req/s (${r.bad} non-200)`);
  reader.close();
  server.close();
} finally {
  await db.drop();
}
