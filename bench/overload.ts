// `npm run bench -- overload [factor=5] [seconds=10]`: a burst of `factor` x the log's
// capacity from many clients, against a `ctlog ctfe` (its default workers: one per core, or
// CTLOG_BENCH_WORKERS) and a `ctlog sequencer` (MariaDB + Redis), while one normal client
// submits at a modest rate and measures its latency. Printed: the normal client's p50/p99
// unloaded (measured first, in the same run) beside its p50/p99 under the burst; every answer
// by status code (only 200, 429 and 503 are allowed: no 500, no reset, no timeout); each
// process group's RSS and V8 heap in use before, during (peak) and after the burst.
//
// The capacity is measured in the same run, open loop: the offered rate is stepped up and
// the capacity is the highest rate at which the log still answered (nearly) everything 200
// with p99 within CAPACITY_P99_MS. (A closed loop measures its own clients' patience, not
// what the log can take: the burst it set was ~1.1x real capacity, not 5x.)
//
// The flood: most of it from many client addresses (X-Forwarded-For set by the trusted
// proxy, here 127.0.0.1), each under the per-client limit, so only load shedding can refuse
// it; a fifth from one abusive client rotating its User-Agent and the first (client-written)
// X-Forwarded-For hop, which the per-client limit must refuse with 429.
//
// Everything runs on this box: the load generator competes with the log for the same cores
// (its own CPU is printed), and on a shared machine every figure is noisy. Read the figures
// beside each other.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { benchEnv } from './_harness.js';
import { CpuWatch, nowMs, prepareWorkers, refusalsByCause, runWorker, servicePids, withDescendants, type OpenLoopResult } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

const FACTOR = Number(process.argv[2] ?? 5);
const SECONDS = Number(process.argv[3] ?? 10);
const NORMAL_RATE = 20;
const BODIES = Number(process.env.CTLOG_BENCH_BODIES ?? 40_000);
/** The capacity: the highest offered rate answered with p99 at most this, and at least CAPACITY_OK 200s. */
const CAPACITY_P99_MS = 500;
const CAPACITY_OK = 0.99;
const CAPACITY_STEP_SECONDS = 3;
/** Offered rates of the capacity steps: from 100/s, a quarter more each step. */
const CAPACITY_RATES = Array.from({ length: 18 }, (_, i) => Math.round(100 * 1.25 ** i));
const WORKERS = process.env.CTLOG_BENCH_WORKERS;
const FLOOD_CLIENTS = 400;
const PER_CLIENT = { per_second: 50, burst: 100 };
const DEMO = join(import.meta.dirname, '..', 'demo');
const log = (s: string) => process.stderr.write(`${s}\n`);

/** add-pre-chain bodies under a fresh intermediate of the demo root, on two worker threads. */
async function generate(n: number): Promise<string[]> {
  const now = Date.now();
  const root = loadIssuer(readFileSync(join(DEMO, 'demo-root.pem'), 'utf8'), readFileSync(join(DEMO, 'demo-root-key.pem'), 'utf8'));
  const intermediate = makeIntermediate(root, now);
  const keyPem = intermediate.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const leafSpki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const half = Math.ceil(n / 2);
  const parts = await Promise.all(
    [half, n - half].map((count) =>
      runWorker<string[]>({ job: 'gen', count, intermediateDer: intermediate.der, intermediateKeyPem: keyPem, leafSpki, notBefore: now - 3600_000, notAfter: now + 90 * 86400_000, halfPsc: false }),
    ),
  );
  return parts.flat();
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Answer {
  status: number;
  ms: number;
}

/** One POST with headers; status 0 for a transport error or a client timeout (30 s). */
function post(agent: Agent, url: URL, body: string, headers: Record<string, string>): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
      r.resume();
      r.on('end', () => resolve({ status: r.statusCode ?? 0, ms: performance.now() - t0 }));
      r.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });
}

/** The normal client: NORMAL_RATE submissions a second, each timed, from its own address. */
async function normalClient(url: URL, bodies: string[], seconds: number): Promise<Answer[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const out: Promise<Answer>[] = [];
  const n = Math.round(NORMAL_RATE * seconds);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / NORMAL_RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    out.push(post(agent, url, bodies[i % bodies.length]!, { 'x-forwarded-for': '192.0.2.1', 'user-agent': 'normal-ca/1.0' }));
  }
  const got = await Promise.all(out);
  agent.destroy();
  return got;
}

/** One open-loop run of `bodies` at `rate`/s on two worker threads, from many client addresses. */
async function openLoop(url: URL, bodies: string[], rate: number, headersOf: (k: number) => Record<string, string>): Promise<OpenLoopResult[]> {
  const LOADERS = 2;
  const jobs = Array.from({ length: LOADERS }, (_, w) => {
    const ids: number[] = [];
    for (let k = w; k < bodies.length; k += LOADERS) ids.push(k);
    return { job: 'open' as const, url: url.href, bodies: ids.map((k) => bodies[k]!), headers: ids.map(headersOf), ids, startAt: 0, intervalMs: 1000 / rate, sockets: 512, timeoutMs: 30_000 };
  });
  const workers = await prepareWorkers<OpenLoopResult>(jobs);
  return workers.go({ startAt: nowMs() + 50 });
}

interface Step {
  rate: number;
  ok: number;
  p99: number;
}

/** The open-loop capacity: steps up the offered rate until p99 or the share of 200s fails. */
async function capacity(url: URL, bodies: string[]): Promise<{ perSecond: number; used: number; steps: Step[] }> {
  let used = 0;
  let best = 0;
  const steps: Step[] = [];
  const spread = (k: number) => ({ 'x-forwarded-for': `198.18.${(k % 1000) >> 8}.${(k % 1000) & 255}` });
  for (const rate of CAPACITY_RATES) {
    const n = rate * CAPACITY_STEP_SECONDS;
    const part = Array.from({ length: n }, (_, i) => bodies[(used + i) % bodies.length]!);
    used += n;
    const got = await openLoop(url, part, rate, spread);
    const status = got.flatMap((r) => r.status);
    const lat = got.flatMap((r) => r.latencyMs.filter((_, i) => r.status[i] === 200));
    const step = { rate, ok: status.filter((x) => x === 200).length / status.length, p99: percentile(lat, 99) };
    steps.push(step);
    log(`  ${rate}/s: ${(100 * step.ok).toFixed(1)} % answered 200, p99 ${Math.round(step.p99)} ms`);
    await new Promise((r) => setTimeout(r, 2000)); // let the queue drain
    if (step.ok < CAPACITY_OK || !(step.p99 <= CAPACITY_P99_MS)) break;
    best = rate;
  }
  return { perSecond: best, used, steps };
}

/** The summed V8 heap in use of a process group, from its /metrics (MiB); NaN if it does not answer. */
async function heapUsedMiB(base: string): Promise<number> {
  try {
    const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const m = /^ctlog_nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
    return m ? Number(m[1]) / 2 ** 20 : NaN;
  } catch {
    return NaN;
  }
}

const env = await benchEnv();
try {
  // The log section the bench needs: a per-client limit, and 127.0.0.1 as the trusted proxy
  // that sets X-Forwarded-For (the load generator plays the proxy).
  const shards = readFileSync(env.configFile, 'utf8');
  writeFileSync(env.configFile, `log:\n  rate_limit: { per_second: ${PER_CLIENT.per_second}, burst: ${PER_CLIENT.burst} }\n  trusted_proxies: [127.0.0.1]\n${shards}`);
  log('generating chains ...');
  // Distinct chains for the capacity run and most of the burst: duplicates are cheaper for
  // the sequencer (dedup) and would flatter the capacity.
  const bodies = await generate(BODIES);
  const normalBodies = await generate(Math.round(NORMAL_RATE * (SECONDS + 10)) * 2);
  const seq = await env.spawnCtlog(['sequencer']);
  const ctfe = await env.spawnCtlog(['ctfe', ...(WORKERS ? ['--workers', WORKERS] : [])]);
  const url = new URL(`${ctfe.url}/bench/ct/v1/add-pre-chain`);
  const groups = { ctfe: withDescendants(ctfe.child.pid!), sequencer: [seq.child.pid!] };
  const urls = { ctfe: ctfe.url, sequencer: seq.url };
  const workerCount = groups.ctfe.length > 1 ? groups.ctfe.length - 1 : 1;
  const rss = (k: keyof typeof groups) => groups[k].reduce((a, p) => a + rssMiB(p), 0);

  log(`warm-up and unloaded baseline (ctfe: ${workerCount} workers) ...`);
  await openLoop(url, bodies.slice(-600), 200, () => ({}));
  const baseline = await normalClient(url, normalBodies, 5);
  log(`capacity (open loop, ${CAPACITY_STEP_SECONDS} s steps, p99 <= ${CAPACITY_P99_MS} ms, >= ${100 * CAPACITY_OK} % 200) ...`);
  const { perSecond: cap, used: capacityUsed, steps } = await capacity(url, bodies);
  const floodRate = Math.round(Math.max(cap, CAPACITY_RATES[0]!) * FACTOR);
  log(`capacity ${cap}/s; burst at ${floodRate}/s for ${SECONDS} s ...`);
  await new Promise((r) => setTimeout(r, 3000)); // let the queue drain

  const mem = async () => ({
    rss: { ctfe: rss('ctfe'), sequencer: rss('sequencer') },
    heap: { ctfe: await heapUsedMiB(urls.ctfe), sequencer: await heapUsedMiB(urls.sequencer) },
  });
  const before = await mem();
  const peak = structuredClone(before);
  let sampling = true;
  // RSS from /proc four times a second; the heap from /metrics every 2 s only, because a
  // scrape of a group of workers costs each of them an IPC message of its metrics.
  const sampler = (async () => {
    for (let i = 0; sampling; i++) {
      for (const k of ['ctfe', 'sequencer'] as const) peak.rss[k] = Math.max(peak.rss[k], rss(k));
      if (i % 8 === 0) {
        const m = await mem();
        for (const k of ['ctfe', 'sequencer'] as const) peak.heap[k] = Math.max(peak.heap[k], m.heap[k]);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  // The flood, open loop on two worker threads: request k is due at startAt + k / rate.
  const total = floodRate * SECONDS;
  const headersOf = (k: number): Record<string, string> =>
    k % 5 === 4
      ? { 'x-forwarded-for': `10.${k % 250}.${(k >> 8) % 250}.1, 203.0.113.66`, 'user-agent': `abuser-${k % 997}/1.0` }
      : { 'x-forwarded-for': `198.51.${(k % FLOOD_CLIENTS) >> 8}.${(k % FLOOD_CLIENTS) & 255}`, 'user-agent': `flood-${k % 100}/2.0` };
  const floodBodies = Array.from({ length: total }, (_, k) => bodies[(k + capacityUsed) % bodies.length]!);
  const cpu = new CpuWatch({ ctfe: groups.ctfe, sequencer: groups.sequencer, ...servicePids() });
  cpu.begin();
  const t0 = nowMs();
  const [flood, underLoad] = await Promise.all([openLoop(url, floodBodies, floodRate, headersOf), normalClient(url, normalBodies.slice(Math.round(NORMAL_RATE * 6)), SECONDS)]);
  const cpuUsed = cpu.end();
  const burstSecs = (nowMs() - t0) / 1000;
  sampling = false;
  await sampler;
  await new Promise((r) => setTimeout(r, 5000));
  const after = await mem();
  // The CTFE's own account of its refusals, by cause (every worker's: /metrics is the group's).
  const refusals = await refusalsByCause(ctfe.url).catch(() => new Map<string, number>());

  const statuses = new Map<number, number>();
  for (const r of flood) for (const s of r.status) statuses.set(s, (statuses.get(s) ?? 0) + 1);
  for (const a of underLoad) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  const floodOk = flood.flatMap((r) => r.latencyMs.filter((_, i) => r.status[i] === 200));
  const floodShed = flood.flatMap((r) => r.latencyMs.filter((_, i) => r.status[i] === 429 || r.status[i] === 503));
  const ms = (xs: Answer[]) => xs.filter((a) => a.status === 200).map((a) => a.ms);
  const base = ms(baseline);
  const loaded = ms(underLoad);
  const normalOk = underLoad.filter((a) => a.status === 200).length / underLoad.length;
  const disallowed = [...statuses].filter(([s]) => ![200, 429, 503].includes(s)).reduce((a, [, n]) => a + n, 0);
  const rows: Row[] = [
    ...steps.map((st): Row => ({ figure: `capacity step ${st.rate}/s offered: p99 (${(100 * st.ok).toFixed(1)} % answered 200)`, value: st.p99, unit: 'ms', target: CAPACITY_P99_MS, goal: 'max' })),
    { figure: `capacity (open loop: highest step within p99 and 200s)`, value: cap, unit: 'submissions/s' },
    { figure: `burst offered (${FACTOR}x capacity, ${SECONDS} s)`, value: floodRate, unit: 'submissions/s' },
    { figure: 'burst answered 200 (accepted)', value: floodOk.length / burstSecs, unit: 'submissions/s' },
    { figure: 'burst accepted p99', value: percentile(floodOk, 99), unit: 'ms' },
    { figure: 'burst refused (429/503) p99, time to the refusal', value: percentile(floodShed, 99), unit: 'ms' },
    { figure: 'normal client p50, unloaded', value: percentile(base, 50), unit: 'ms' },
    { figure: 'normal client p50, under the burst', value: percentile(loaded, 50), unit: 'ms', target: Math.max(3 * percentile(base, 50), percentile(base, 50) + 100), goal: 'max' },
    { figure: 'normal client p99, unloaded', value: percentile(base, 99), unit: 'ms' },
    { figure: 'normal client p99, under the burst', value: percentile(loaded, 99), unit: 'ms', target: Math.max(3 * percentile(base, 99), percentile(base, 99) + 250), goal: 'max' },
    { figure: 'normal client answered 200 under the burst', value: 100 * normalOk, unit: '%' },
    ...[...statuses].sort(([a], [b]) => a - b).map(([s, n]): Row => ({ figure: `answers ${s === 0 ? 'reset/timeout' : s}`, value: n, unit: 'requests' })),
    { figure: 'answers other than 200, 429, 503', value: disallowed, unit: 'requests', target: 0, goal: 'max' },
  ];
  for (const [reason, n] of refusals) rows.push({ figure: `ctfe refusals counted: ${reason}`, value: n, unit: 'requests' });
  for (const [k, secs] of cpuUsed) rows.push({ figure: `CPU during the burst: ${k === 'ctfe' ? `ctfe (${groups.ctfe.length} processes)` : k}`, value: secs / burstSecs, unit: 'cores' });
  for (const k of ['ctfe', 'sequencer'] as const) {
    const who = k === 'ctfe' ? `ctfe (${groups.ctfe.length} processes)` : k;
    rows.push({ figure: `${who} RSS before`, value: before.rss[k], unit: 'MiB' });
    rows.push({ figure: `${who} RSS peak during`, value: peak.rss[k], unit: 'MiB', target: before.rss[k] + 256, goal: 'max' });
    rows.push({ figure: `${who} RSS 5 s after`, value: after.rss[k], unit: 'MiB', target: before.rss[k] + 128, goal: 'max' });
    rows.push({ figure: `${who} V8 heap used before`, value: before.heap[k], unit: 'MiB' });
    rows.push({ figure: `${who} V8 heap used peak during`, value: peak.heap[k], unit: 'MiB' });
    rows.push({ figure: `${who} V8 heap used 5 s after`, value: after.heap[k], unit: 'MiB', target: before.heap[k] + 32, goal: 'max' });
  }
  const ok = printTable(`Overload: ${FACTOR}x capacity from ${FLOOD_CLIENTS} clients + one abuser (rotating User-Agent and X-Forwarded-For first hop), ctfe ${workerCount} workers, MariaDB + Redis, load generator on the same shared 2-core box (noisy)`, rows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
