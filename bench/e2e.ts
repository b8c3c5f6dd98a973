// `npm run bench -- e2e [rate=2400] [seconds=60]`: open-loop add-pre-chain load over HTTP
// against a `ctlog ctfe` and a `ctlog sequencer` process (MariaDB + Redis), all on this box.
// Requests leave at fixed intervals whatever the answers; SCT latency is measured from the
// scheduled send time. Afterwards EVERY SCT received is checked against the database: its
// signature verifies over the submitted chain's entry, the row at its leaf_index has its
// timestamp and the leaf hash rebuilt from (timestamp, entry, extensions), and the root over
// all stored leaf hashes equals the signed tree head (invariant 1, docs/DESIGN.md).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { EMPTY_ROOT, nodeHash } from '../src/merkle/index.js';
import { verifySth } from '../src/signing/index.js';
import { equal } from '../src/util/bytes.js';
import { benchEnv } from './_harness.js';
import { CpuWatch, nowMs, prepareWorkers, runWorker, servicePids, type OpenLoopResult, type Progress, type VerifiedSct } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

// Throughput counted until the last answer is always a little under the offered rate (the
// last answers arrive after the last send), so the default offers 4 % more than the 2,300/s
// target: the target is met only if the log keeps up with more than it.
const RATE = Number(process.argv[2] ?? 2400);
const SECONDS = Number(process.argv[3] ?? 60);
const TOTAL = Math.round(RATE * SECONDS);
const WARMUP = Math.min(500, Math.max(50, Math.round(RATE / 4)));
/** Load-generator threads and keep-alive sockets per thread. */
const LOADERS = 2;
const SOCKETS = 256;
const CLIENT_TIMEOUT_MS = 30_000;
const DEMO = join(import.meta.dirname, '..', 'demo');
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!(RATE > 0 && SECONDS > 0)) {
  console.error('usage: npm run bench -- e2e [rate per second] [seconds]');
  process.exit(2);
}

/** Pre-generates n add-pre-chain bodies (half through a PSC) on two worker threads. */
async function generate(n: number): Promise<string[]> {
  const now = Date.now();
  const rootPem = readFileSync(join(DEMO, 'demo-root.pem'), 'utf8');
  const root = loadIssuer(rootPem, readFileSync(join(DEMO, 'demo-root-key.pem'), 'utf8'));
  const intermediate = makeIntermediate(root, now);
  const keyPem = intermediate.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  // One leaf key for every precertificate: a fresh P-256 key per leaf would cost more than the rest.
  const leafSpki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const half = Math.ceil(n / 2);
  const parts = await Promise.all(
    [half, n - half].map((count) =>
      runWorker<string[]>({ job: 'gen', count, intermediateDer: intermediate.der, intermediateKeyPem: keyPem, leafSpki, notBefore: now - 3600_000, notAfter: now + 90 * 86400_000, halfPsc: true }),
    ),
  );
  return parts.flat();
}

/** Open-loop load: bodies[i] is due at startAt + i / rate seconds, spread over LOADERS threads. */
async function load(url: string, bodies: string[], rate: number, onProgress: (p: Progress) => void, beforeStart = () => {}): Promise<{ results: OpenLoopResult[]; startAt: number }> {
  const last: Progress[] = Array.from({ length: LOADERS }, () => ({ sent: 0, done: 0 }));
  const jobs = Array.from({ length: LOADERS }, (_, w) => {
    const ids = bodies.map((_, i) => i).filter((i) => i % LOADERS === w);
    return { job: 'open' as const, url, bodies: ids.map((i) => bodies[i]!), ids, startAt: 0, intervalMs: 1000 / rate, sockets: SOCKETS, timeoutMs: CLIENT_TIMEOUT_MS };
  });
  const workers = await prepareWorkers<OpenLoopResult>(jobs, (w, p) => {
    last[w] = p;
    onProgress(last.reduce((a, b) => ({ sent: a.sent + b.sent, done: a.done + b.done }), { sent: 0, done: 0 }));
  });
  beforeStart();
  const startAt = nowMs() + 20;
  return { results: await workers.go({ startAt }), startAt };
}

/** RFC 6962 §2.1 MTH over leaf hashes in order, with a stack of perfect subtrees. */
function rootOf(hashes: Uint8Array[]): Uint8Array {
  const stack: Array<{ h: Uint8Array; n: number }> = [];
  for (const h of hashes) {
    let top = { h, n: 1 };
    while (stack.length && stack[stack.length - 1]!.n === top.n) {
      const left = stack.pop()!;
      top = { h: nodeHash(left.h, top.h), n: left.n * 2 };
    }
    stack.push(top);
  }
  if (!stack.length) return EMPTY_ROOT;
  let right = stack.pop()!.h;
  while (stack.length) right = nodeHash(stack.pop()!.h, right);
  return right;
}

const env = await benchEnv();
try {
  let t = performance.now();
  log(`e2e: generating ${(TOTAL + WARMUP).toLocaleString('en-US')} add-pre-chain bodies (half through a PSC)…`);
  const all = await generate(TOTAL + WARMUP);
  const meanBody = all.reduce((a, b) => a + b.length, 0) / all.length;
  log(`e2e: generated in ${((performance.now() - t) / 1000).toFixed(1)} s, mean body ${Math.round(meanBody)} bytes`);
  const warm = all.slice(0, WARMUP);
  const bodies = all.slice(WARMUP);

  const seq = await env.spawnCtlog(['sequencer']);
  const ctfe = await env.spawnCtlog(['ctfe']);
  const url = `${ctfe.url}/bench/ct/v1/add-pre-chain`;
  log(`e2e: ctfe at ${ctfe.url} (pid ${ctfe.child.pid}), sequencer pid ${seq.child.pid}; warming up with ${WARMUP} submissions at 200/s`);
  const warmRun = await load(url, warm, 200, () => {});

  const cpu = new CpuWatch({ ctfe: [ctfe.child.pid!], sequencer: [seq.child.pid!], ...servicePids() });
  let lastLog = 0;
  let run0 = nowMs();
  log(`e2e: ${TOTAL.toLocaleString('en-US')} submissions open-loop at ${RATE}/s for ${SECONDS} s`);
  const run = await load(url, bodies, RATE, (p) => {
    const now = nowMs();
    if (now - lastLog < 5000) return;
    lastLog = now;
    log(`e2e: ${((now - run0) / 1000).toFixed(0)} s: sent ${p.sent.toLocaleString('en-US')}, answered ${p.done.toLocaleString('en-US')}, in flight ${(p.sent - p.done).toLocaleString('en-US')}`);
  }, () => {
    cpu.begin();
    run0 = nowMs();
  });
  const ended = nowMs();
  const used = cpu.end();
  const wall = (ended - run.startAt) / 1000;

  // Merge per-thread results back into submission order.
  const status = new Array<number>(TOTAL);
  const latency = new Array<number>(TOTAL);
  const sctBody = new Array<string>(TOTAL);
  for (const r of run.results) r.ids.forEach((id, k) => ((status[id] = r.status[k]!), (latency[id] = r.latencyMs[k]!), (sctBody[id] = r.bodies[k]!)));
  const codes = new Map<number, number>();
  for (const s of status) codes.set(s, (codes.get(s) ?? 0) + 1);
  const okLatency = latency.filter((_, i) => status[i] === 200);
  const ok = okLatency.length;

  // Every SCT, warm-up included: signature, leaf_index row, leaf hash, tree root.
  t = performance.now();
  const pairs: Array<{ body: string; sct: string }> = [];
  const collect = (results: OpenLoopResult[], sent: string[]) => {
    for (const r of results) r.status.forEach((s, k) => s === 200 && pairs.push({ body: sent[r.ids[k]!]!, sct: r.bodies[k]! }));
  };
  collect(warmRun.results, warm);
  collect(run.results, bodies);
  const rootPem = readFileSync(join(DEMO, 'demo-root.pem'), 'utf8');
  const halves = [pairs.filter((_, i) => i % 2 === 0), pairs.filter((_, i) => i % 2 === 1)];
  const verified = (
    await Promise.all(halves.map((h) => runWorker<VerifiedSct[]>({ job: 'verify', bodies: h.map((p) => p.body), scts: h.map((p) => p.sct), logSpki: env.shard.publicKey, rootPem })))
  ).flat();
  const head = await env.storage.currentHead(env.shard.id);
  const leafHashes: Uint8Array[] = [];
  const timestamps: number[] = [];
  for (let s = 0; s < head.treeSize; s += 20_000) {
    for (const e of await env.storage.readEntries(env.shard.id, s, Math.min(head.treeSize, s + 20_000))) {
      if (e.idx !== leafHashes.length) throw new Error(`entries are not consecutive: got index ${e.idx}, want ${leafHashes.length}`);
      leafHashes.push(e.leafHash);
      timestamps.push(e.timestamp);
    }
  }
  const problems: string[] = [];
  if (leafHashes.length !== head.treeSize) problems.push(`${leafHashes.length} rows for tree size ${head.treeSize}`);
  if (!equal(rootOf(leafHashes), head.rootHash)) problems.push('the root over all stored leaf hashes is not the STH root');
  if (!verifySth(env.shard.publicKey, head, head.signature)) problems.push('the STH signature does not verify');
  const seen = new Set<number>();
  for (const v of verified) {
    if (v.error) problems.push(v.error);
    else if (v.leafIndex >= head.treeSize) problems.push(`leaf_index ${v.leafIndex} is beyond tree size ${head.treeSize}`);
    else if (timestamps[v.leafIndex] !== v.timestamp) problems.push(`entry ${v.leafIndex} has timestamp ${timestamps[v.leafIndex]}, its SCT says ${v.timestamp}`);
    else if (!equal(leafHashes[v.leafIndex]!, v.leafHash)) problems.push(`entry ${v.leafIndex}: stored leaf hash is not the hash of the SCT's MerkleTreeLeaf`);
    else if (seen.has(v.leafIndex)) problems.push(`two SCTs for leaf_index ${v.leafIndex}`);
    seen.add(v.leafIndex);
  }
  const allIncluded = problems.length === 0 && verified.length === pairs.length;
  log(`e2e: checked ${verified.length.toLocaleString('en-US')} SCTs against ${head.treeSize.toLocaleString('en-US')} stored entries in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const p of problems.slice(0, 10)) log(`e2e: NOT INCLUDED: ${p}`);

  const rows: Row[] = [
    { figure: 'throughput (successful SCTs / s, until the last answer)', value: ok / wall, unit: 'SCTs/s', target: 2300, goal: 'min' },
    { figure: 'offered load', value: RATE, unit: 'req/s' },
    { figure: 'SCT latency p50 (from scheduled send)', value: percentile(okLatency, 50), unit: 'ms' },
    { figure: 'SCT latency p99 (from scheduled send)', value: percentile(okLatency, 99), unit: 'ms', target: 1000, goal: 'max' },
    { figure: 'SCT latency max', value: okLatency.reduce((a, b) => Math.max(a, b), 0), unit: 'ms' },
    { figure: 'submissions answered 200', value: ok, unit: 'requests' },
    ...[...codes].filter(([c]) => c !== 200).map(([c, n]) => ({ figure: c === 0 ? 'errors: transport / client timeout' : `errors: HTTP ${c}`, value: n, unit: 'requests', target: 0, goal: 'max' as const })),
    { figure: `every SCT included (${verified.length.toLocaleString('en-US')} checked): ${allIncluded ? 'yes' : 'NO'}`, value: allIncluded ? 1 : 0, unit: 'yes=1', target: 1, goal: 'min' },
    { figure: 'tree size at the end', value: head.treeSize, unit: 'entries' },
    { figure: 'mean add-pre-chain body', value: meanBody, unit: 'bytes' },
  ];
  const pass = printTable(`e2e: open-loop add-pre-chain at ${RATE.toLocaleString('en-US')}/s for ${SECONDS} s (ctfe + sequencer processes, MariaDB + Redis, one 2-core box)`, rows);
  printTable(
    `e2e: CPU during the load (${wall.toFixed(1)} s wall, 2 cores = ${(2 * wall).toFixed(0)} CPU-s available; MariaDB/Redis figures include any other tenant's load)`,
    [...used].map(([name, s]) => ({ figure: `${name} CPU`, value: s / wall, unit: `cores (${s.toFixed(1)} CPU-s)` })),
  );
  process.exitCode = pass ? 0 : 1;
} finally {
  await env.cleanup();
}
