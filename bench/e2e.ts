// `npm run bench -- e2e [rate=2400] [seconds=30] [knee|no-knee]`: open-loop add-pre-chain load
// over HTTP against a `ctlog ctfe` and a `ctlog sequencer` process (MariaDB + Redis), all on
// this box. Requests leave at fixed intervals whatever the answers; SCT latency is measured
// from the scheduled send time. Afterwards EVERY SCT received is checked against the
// database: its signature verifies over the submitted chain's entry, the row at its
// leaf_index has its timestamp and the leaf hash rebuilt from (timestamp, entry,
// extensions), and the root over all stored leaf hashes equals the signed tree head
// (invariant 1, docs/DESIGN.md).
//
// Figures beside their limits measured in the same run (the host's speed varies by ±30 %):
//  - CPU-µs per SCT of each process, all-in, beside the intrinsic crypto cost of one
//    submission, measured in this process on the same chains just before the load: the
//    leaf's signature verified with its issuer's cached key (CA-to-CA links are verified once
//    per CA, not per submission), the SCT signed with a P-256 key, and the hashes of the
//    entry (identity, leaf hash, fingerprint, its share of the tree's node hashes);
//  - the knee: the offered rate is stepped up, fresh chains each step, and the highest rate
//    whose p99 (a refusal counts as never answered) stays <= 500 ms is reported.
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { EMPTY_ROOT, leafHash, nodeHash } from '../src/merkle/index.js';
import { verifySth } from '../src/signing/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf, sctSignatureInput } from '../src/tls/index.js';
import { equal } from '../src/util/bytes.js';
import { PublicKeyCache, RootStore, identityHash, signatureScheme, validateChain } from '../src/x509/index.js';
import { benchEnv } from './_harness.js';
import { CpuWatch, nowMs, prepareWorkers, refusalsByCause, runWorker, servicePids, withDescendants, type OpenLoopResult, type Progress, type VerifiedSct } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

// Throughput counted until the last answer is always a little under the offered rate (the
// last answers arrive after the last send), so the default offers 4 % more than the 2,300/s
// target: the target is met only if the log keeps up with more than it.
const RATE = Number(process.argv[2] ?? 2400);
const SECONDS = Number(process.argv[3] ?? 30);
const KNEE = (process.argv[4] ?? 'knee') !== 'no-knee';
/** The knee's latency bound and target (issue 14), and how long each step offers its rate. */
const KNEE_P99_MS = 500;
const KNEE_TARGET = 3500;
const STEP_SECONDS = 8;
/** Offered rates tried upwards until one misses; below the first if even that one misses. */
const STEPS_UP = [2000, 2500, 3000, 3500, 4000, 4500, 5000, 6000];
const STEPS_DOWN = [1500, 1000, 500];
/** Submissions whose intrinsic crypto is measured (each step repeated, the cheapest kept). */
const INTRINSIC_SAMPLE = 2000;
const TOTAL = Math.round(RATE * SECONDS);
const WARMUP = Math.min(500, Math.max(50, Math.round(RATE / 4)));
/** Load-generator threads and keep-alive sockets per thread. */
const LOADERS = 2;
const SOCKETS = 256;
const CLIENT_TIMEOUT_MS = 30_000;
const DEMO = join(import.meta.dirname, '..', 'demo');
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!(RATE > 0 && SECONDS > 0)) {
  console.error('usage: npm run bench -- e2e [rate per second] [seconds] [knee|no-knee]');
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

/** CPU-µs of `f` per item, the cheapest of `reps` runs (a shared host only ever adds time). */
function cpuMicros(n: number, reps: number, f: () => void): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const u0 = process.cpuUsage();
    f();
    const u = process.cpuUsage(u0);
    best = Math.min(best, (u.user + u.system) / n);
  }
  return best;
}

/**
 * The crypto one add-pre-chain cannot do without, in CPU-µs, measured here on `bodies`: the
 * leaf's signature checked with its issuer's (cached) key, one P-256 SCT signature, and the
 * SHA-256 passes of the entry: its fingerprint, dedup identity, leaf hash and the one
 * interior node hash per leaf a Merkle tree adds. What is not crypto (parsing, encoding the
 * inputs) is prepared outside the timed loops.
 */
function intrinsic(bodies: string[], rootPem: string): { verify: number; sign: number; hashes: number; total: number } {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(rootPem)!;
  const roots = RootStore.fromCerts([new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'))]);
  const keys = new PublicKeyCache();
  const policy = { roots, notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), now: Date.now() };
  const logKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const extensions = encodeCtExtensions({ leafIndex: 123_456 });
  const items = bodies.map((body) => {
    const ders = (JSON.parse(body) as { chain: string[] }).chain.map((c) => new Uint8Array(Buffer.from(c, 'base64')));
    const v = validateChain('precert', ders, policy, keys);
    const issuer = createPublicKey({ key: Buffer.from(v.chain[0]!.spki), format: 'der', type: 'spki' });
    const ts = Date.now();
    return {
      hash: signatureScheme(v.leaf).hash!,
      tbs: v.leaf.tbs,
      signature: v.leaf.signature,
      issuer,
      der: v.leaf.der,
      entry: v.entry,
      sctInput: sctSignatureInput(ts, v.entry, extensions),
      leaf: encodeMerkleTreeLeaf({ timestamp: ts, entry: v.entry, extensions }),
    };
  });
  const n = items.length;
  const verifyUs = cpuMicros(n, 3, () => {
    for (const it of items) if (!verify(it.hash, it.tbs, it.issuer, it.signature)) throw new Error('intrinsic: a leaf signature does not verify');
  });
  const signUs = cpuMicros(n, 3, () => {
    for (const it of items) sign('sha256', it.sctInput, logKey);
  });
  const hashUs = cpuMicros(n, 3, () => {
    let prev: Uint8Array = new Uint8Array(32);
    for (const it of items) {
      createHash('sha256').update(it.der).digest();
      identityHash(it.entry);
      const h = leafHash(it.leaf);
      prev = nodeHash(prev, h);
    }
  });
  return { verify: verifyUs, sign: signUs, hashes: hashUs, total: verifyUs + signUs + hashUs };
}

/** p99 over every request sent, a refusal or failure counting as never answered. */
function p99All(results: OpenLoopResult[]): number {
  const lat: number[] = [];
  for (const r of results) r.status.forEach((s, k) => lat.push(s === 200 ? r.latencyMs[k]! : Infinity));
  return percentile(lat, 99);
}

// The processes run the production build (bin/ctlog.mjs runs dist/ when it is current), as
// they do in the image: built here unless CTLOG_RUN chooses (CTLOG_RUN=dist: a build made
// beforehand, e.g. of another commit for a before/after; CTLOG_RUN=src: through tsx).
if (!process.env.CTLOG_RUN) {
  log('e2e: building dist/ (npm run build) so that the processes run the production build…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'ignore', 'inherit'] });
  process.env.CTLOG_RUN = 'dist';
}
log(`e2e: the ctlog processes run ${process.env.CTLOG_RUN === 'dist' ? 'dist/ (the production build)' : 'src/ through tsx'}`);

const env = await benchEnv();
try {
  let t = performance.now();
  log(`e2e: generating ${(TOTAL + WARMUP).toLocaleString('en-US')} add-pre-chain bodies (half through a PSC)…`);
  const all = await generate(TOTAL + WARMUP);
  const meanBody = all.reduce((a, b) => a + b.length, 0) / all.length;
  log(`e2e: generated in ${((performance.now() - t) / 1000).toFixed(1)} s, mean body ${Math.round(meanBody)} bytes`);
  const warm = all.slice(0, WARMUP);
  const bodies = all.slice(WARMUP);
  const rootPem = readFileSync(join(DEMO, 'demo-root.pem'), 'utf8');
  log(`e2e: measuring the intrinsic crypto of one submission on ${Math.min(INTRINSIC_SAMPLE, bodies.length)} of these chains…`);
  const intr = intrinsic(bodies.slice(0, INTRINSIC_SAMPLE), rootPem);
  log(`e2e: intrinsic ${intr.total.toFixed(0)} µs per submission (leaf verify ${intr.verify.toFixed(0)}, SCT sign ${intr.sign.toFixed(0)}, hashes ${intr.hashes.toFixed(0)})`);

  const seq = await env.spawnCtlog(['sequencer']);
  const ctfe = await env.spawnCtlog(['ctfe']);
  const url = `${ctfe.url}/bench/ct/v1/add-pre-chain`;
  log(`e2e: ctfe at ${ctfe.url} (pid ${ctfe.child.pid}), sequencer pid ${seq.child.pid}; warming up with ${WARMUP} submissions at 200/s`);
  const warmRun = await load(url, warm, 200, () => {});

  // A front end or sequencer that runs workers is counted with all of them.
  const cpu = new CpuWatch({ ctfe: withDescendants(ctfe.child.pid!), sequencer: withDescendants(seq.child.pid!), ...servicePids() });
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

  const refusals = await refusalsByCause(ctfe.url).catch((err: Error) => (log(`e2e: couldn't read the ctfe's refusals from /metrics: ${err.message}`), new Map<string, number>()));
  const rows: Row[] = [
    { figure: 'throughput (successful SCTs / s, until the last answer)', value: ok / wall, unit: 'SCTs/s', target: 2300, goal: 'min' },
    { figure: 'offered load', value: RATE, unit: 'req/s' },
    { figure: 'SCT latency p50 (from scheduled send)', value: percentile(okLatency, 50), unit: 'ms' },
    { figure: 'SCT latency p99 (from scheduled send)', value: percentile(okLatency, 99), unit: 'ms', target: 1000, goal: 'max' },
    { figure: 'SCT latency max', value: okLatency.reduce((a, b) => Math.max(a, b), 0), unit: 'ms' },
    { figure: 'submissions answered 200', value: ok, unit: 'requests' },
    ...[...codes].filter(([c]) => c !== 200).map(([c, n]) => ({ figure: c === 0 ? 'errors: transport / client timeout' : `errors: HTTP ${c}`, value: n, unit: 'requests', target: 0, goal: 'max' as const })),
    ...[...refusals].map(([cause, n]) => ({ figure: `  refused by the ctfe: ${cause} (ctlog_refused_total)`, value: n, unit: 'requests' })),
    { figure: `every SCT included (${verified.length.toLocaleString('en-US')} checked): ${allIncluded ? 'yes' : 'NO'}`, value: allIncluded ? 1 : 0, unit: 'yes=1', target: 1, goal: 'min' },
    { figure: 'tree size at the end', value: head.treeSize, unit: 'entries' },
    { figure: 'mean add-pre-chain body', value: meanBody, unit: 'bytes' },
  ];
  const pass = printTable(`e2e: open-loop add-pre-chain at ${RATE.toLocaleString('en-US')}/s for ${SECONDS} s (ctfe + sequencer processes, MariaDB + Redis, one 2-core box)`, rows);
  printTable(
    `e2e: CPU during the load (${wall.toFixed(1)} s wall, 2 cores = ${(2 * wall).toFixed(0)} CPU-s available; MariaDB/Redis figures include any other tenant's load)`,
    [...used].map(([name, s]) => ({ figure: `${name} CPU`, value: s / wall, unit: `cores (${s.toFixed(1)} CPU-s)` })),
  );
  // CPU per SCT: the services' figures include any other tenant's load on them.
  const perSct = (name: string) => ((used.get(name) ?? NaN) * 1e6) / Math.max(ok, 1);
  const procs = ['ctfe', 'sequencer', 'mariadbd', 'redis-server'];
  const allIn = procs.reduce((a, p) => a + perSct(p), 0);
  const cpuPass = printTable(
    `e2e: CPU per SCT beside the intrinsic crypto of one submission, both measured in this run (${ok.toLocaleString('en-US')} SCTs)`,
    [
      { figure: 'intrinsic: leaf signature verify (issuer key cached)', value: intr.verify, unit: 'CPU-µs' },
      { figure: 'intrinsic: SCT signature (P-256, node:crypto)', value: intr.sign, unit: 'CPU-µs' },
      { figure: 'intrinsic: hashes (fingerprint, identity, leaf, node)', value: intr.hashes, unit: 'CPU-µs' },
      { figure: 'intrinsic crypto of one submission', value: intr.total, unit: 'CPU-µs' },
      ...procs.map((p) => ({ figure: `${p} per SCT (${(perSct(p) / intr.total).toFixed(2)}x intrinsic)`, value: perSct(p), unit: 'CPU-µs' })),
      { figure: 'all-in per SCT (ctfe + sequencer + MariaDB + Redis)', value: allIn, unit: 'CPU-µs' },
      { figure: 'all-in / intrinsic', value: allIn / intr.total, unit: 'ratio', target: 3, goal: 'max' },
    ],
  );

  let kneePass = true;
  if (KNEE) {
    // Open-loop steps with fresh chains (a repeat would be a cheap duplicate), each offered
    // for STEP_SECONDS; every answer of a step is in before the next one starts.
    const steps: Array<{ rate: number; p99: number; ok: number; refused: number; achieved: number }> = [];
    const step = async (rate: number) => {
      const n = Math.round(rate * STEP_SECONDS);
      const b = await generate(n);
      log(`e2e: knee: offering ${rate}/s for ${STEP_SECONDS} s…`);
      const r = await load(url, b, rate, () => {});
      const wallS = (nowMs() - r.startAt) / 1000;
      const okN = r.results.reduce((a, x) => a + x.status.filter((c) => c === 200).length, 0);
      const res = { rate, p99: p99All(r.results), ok: okN, refused: n - okN, achieved: okN / wallS };
      steps.push(res);
      log(`e2e: knee: ${rate}/s: p99 ${Number.isFinite(res.p99) ? `${Math.round(res.p99)} ms` : 'refusals'}, ${res.refused} not answered 200, ${Math.round(res.achieved)} SCTs/s`);
      return res.p99 <= KNEE_P99_MS;
    };
    let knee = 0;
    let missed = 0;
    for (const rate of STEPS_UP) {
      if (!(await step(rate))) {
        missed = rate;
        break;
      }
      knee = rate;
    }
    if (knee === 0) {
      for (const rate of STEPS_DOWN) {
        if (await step(rate)) {
          knee = rate;
          break;
        }
        missed = rate;
      }
    }
    // One step halfway between the last rate that held and the first that did not.
    const mid = Math.round((knee + missed) / 2 / 50) * 50;
    if (knee > 0 && missed > knee && mid > knee && mid < missed && (await step(mid))) knee = mid;
    kneePass = printTable(`e2e: the knee: open-loop steps of ${STEP_SECONDS} s, fresh chains each; p99 over every request (a refusal counts as never answered)`, [
      ...steps.map((x): Row => ({ figure: `offered ${x.rate.toLocaleString('en-US')}/s: p99, limit ${KNEE_P99_MS} ms (${Math.round(x.achieved).toLocaleString('en-US')} SCTs/s, ${x.refused} not 200)`, value: x.p99, unit: 'ms' })),
      { figure: `knee: highest offered rate with p99 <= ${KNEE_P99_MS} ms`, value: knee, unit: 'req/s', target: KNEE_TARGET, goal: 'min' },
    ]);
  }
  process.exitCode = pass && cpuPass && kneePass ? 0 : 1;
} finally {
  await env.cleanup();
}
