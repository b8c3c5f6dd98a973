// `npm run bench -- overload [factor=5] [seconds=10]`: a burst of `factor` x the log's
// capacity from many clients, against a `ctlog ctfe` and a `ctlog sequencer` process
// (MariaDB + Redis), while one normal client submits at a modest rate and measures its
// latency. Printed: the normal client's p50/p99 unloaded (measured first, in the same run)
// beside its p50/p99 under the burst; every answer by status code (only 200, 429 and 503 are
// allowed: no 500, no reset, no timeout); and each process's RSS before, during (peak) and
// after the burst. The capacity is measured in the same run too (closed loop, many clients).
//
// The flood: most of it from many client addresses (X-Forwarded-For set by the trusted
// proxy, here 127.0.0.1), each under the per-client limit, so only load shedding can refuse
// it; a fifth from one abusive client rotating its User-Agent and the first (client-written)
// X-Forwarded-For hop, which the per-client limit must refuse with 429.
//
// Everything runs on this box: the load generator competes with the log for the same cores,
// and on a shared machine every figure is noisy. Read the figures beside each other.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { loadIssuer, makeIntermediate } from '../src/cli/cert-factory.js';
import { benchEnv } from './_harness.js';
import { CpuWatch, nowMs, prepareWorkers, runWorker, servicePids, type OpenLoopResult } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

const FACTOR = Number(process.argv[2] ?? 5);
const SECONDS = Number(process.argv[3] ?? 10);
const NORMAL_RATE = 20;
const BODIES = Number(process.env.CTLOG_BENCH_BODIES ?? 40_000);
/** Closed-loop clients of the capacity run: enough that the pipeline, not their latency, limits it. */
const CAPACITY_CLIENTS = 256;
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

/** Closed-loop capacity: `clients` submitters as fast as answers come, for `seconds`. */
async function capacity(url: URL, bodies: string[], seconds: number, clients: number): Promise<{ perSecond: number; used: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let ok = 0;
  let next = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < end) {
        const a = await post(agent, url, bodies[next++ % bodies.length]!, { 'x-forwarded-for': `198.18.${c >> 8}.${c & 255}` });
        if (a.status === 503) await new Promise((r) => setTimeout(r, 100)); // shed: back off as a client would
        if (a.status === 200) ok++;
      }
    }),
  );
  agent.destroy();
  return { perSecond: ok / seconds, used: next };
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
  const ctfe = await env.spawnCtlog(['ctfe']);
  const url = new URL(`${ctfe.url}/bench/ct/v1/add-pre-chain`);
  const pids = { ctfe: ctfe.child.pid!, sequencer: seq.child.pid! };

  log('warm-up and unloaded baseline ...');
  await capacity(url, bodies.slice(-500), 2, 8);
  const baseline = await normalClient(url, normalBodies, 5);
  log(`capacity (closed loop, ${CAPACITY_CLIENTS} clients, 5 s) ...`);
  const { perSecond: cap, used: capacityUsed } = await capacity(url, bodies, 5, CAPACITY_CLIENTS);
  const floodRate = Math.round(cap * FACTOR);
  log(`capacity ${Math.round(cap)}/s; burst at ${floodRate}/s for ${SECONDS} s ...`);
  await new Promise((r) => setTimeout(r, 3000)); // let the queue drain

  const rssBefore = { ctfe: rssMiB(pids.ctfe), sequencer: rssMiB(pids.sequencer) };
  const rssPeak = { ...rssBefore };
  const sampler = setInterval(() => {
    for (const k of ['ctfe', 'sequencer'] as const) rssPeak[k] = Math.max(rssPeak[k], rssMiB(pids[k]));
  }, 250);

  // The flood, open loop on two worker threads: request k is due at startAt + k / rate.
  const total = floodRate * SECONDS;
  const LOADERS = 2;
  const headersOf = (k: number): Record<string, string> =>
    k % 5 === 4
      ? { 'x-forwarded-for': `10.${k % 250}.${(k >> 8) % 250}.1, 203.0.113.66`, 'user-agent': `abuser-${k % 997}/1.0` }
      : { 'x-forwarded-for': `198.51.${(k % FLOOD_CLIENTS) >> 8}.${(k % FLOOD_CLIENTS) & 255}`, 'user-agent': `flood-${k % 100}/2.0` };
  const jobs = Array.from({ length: LOADERS }, (_, w) => {
    const ids: number[] = [];
    for (let k = w; k < total; k += LOADERS) ids.push(k);
    return { job: 'open' as const, url: url.href, bodies: ids.map((k) => bodies[(k + capacityUsed) % bodies.length]!), headers: ids.map(headersOf), ids, startAt: 0, intervalMs: 1000 / floodRate, sockets: 512, timeoutMs: 30_000 };
  });
  const workers = await prepareWorkers<OpenLoopResult>(jobs);
  const cpu = new CpuWatch({ ctfe: [pids.ctfe], sequencer: [pids.sequencer], ...servicePids() });
  cpu.begin();
  const startAt = nowMs() + 50;
  const [flood, underLoad] = await Promise.all([workers.go({ startAt }), normalClient(url, normalBodies.slice(Math.round(NORMAL_RATE * 6)), SECONDS)]);
  clearInterval(sampler);
  const cpuUsed = cpu.end();
  const burstSecs = (nowMs() - startAt) / 1000;
  await new Promise((r) => setTimeout(r, 5000));
  // The CTFE's own account of its refusals, by cause.
  const metricsText = await fetch(`${ctfe.url}/metrics`).then((r) => r.text(), () => '');
  const refusals = [...metricsText.matchAll(/^ctlog_refused_total\{shard="([^"]*)",endpoint="([^"]*)",reason="([^"]+)"\} (\d+)/gm)].map((m) => [m[3]!, Number(m[4])] as const);
  const rssAfter = { ctfe: rssMiB(pids.ctfe), sequencer: rssMiB(pids.sequencer) };

  const statuses = new Map<number, number>();
  for (const r of flood) for (const s of r.status) statuses.set(s, (statuses.get(s) ?? 0) + 1);
  for (const a of underLoad) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  const ms = (xs: Answer[]) => xs.filter((a) => a.status === 200).map((a) => a.ms);
  const base = ms(baseline);
  const loaded = ms(underLoad);
  const normalOk = underLoad.filter((a) => a.status === 200).length / underLoad.length;
  const disallowed = [...statuses].filter(([s]) => ![200, 429, 503].includes(s)).reduce((a, [, n]) => a + n, 0);
  const rows: Row[] = [
    { figure: `capacity (closed loop, ${CAPACITY_CLIENTS} clients)`, value: cap, unit: 'submissions/s' },
    { figure: `burst offered (${FACTOR}x capacity, ${SECONDS} s)`, value: floodRate, unit: 'submissions/s' },
    { figure: 'normal client p50, unloaded', value: percentile(base, 50), unit: 'ms' },
    { figure: 'normal client p50, under the burst', value: percentile(loaded, 50), unit: 'ms', target: Math.max(3 * percentile(base, 50), percentile(base, 50) + 100), goal: 'max' },
    { figure: 'normal client p99, unloaded', value: percentile(base, 99), unit: 'ms' },
    { figure: 'normal client p99, under the burst', value: percentile(loaded, 99), unit: 'ms', target: Math.max(3 * percentile(base, 99), percentile(base, 99) + 250), goal: 'max' },
    { figure: 'normal client answered 200 under the burst', value: 100 * normalOk, unit: '%' },
    ...[...statuses].sort(([a], [b]) => a - b).map(([s, n]): Row => ({ figure: `answers ${s === 0 ? 'reset/timeout' : s}`, value: n, unit: 'requests' })),
    { figure: 'answers other than 200, 429, 503', value: disallowed, unit: 'requests', target: 0, goal: 'max' },
  ];
  for (const [reason, n] of refusals) rows.push({ figure: `ctfe refusals counted: ${reason}`, value: n, unit: 'requests' });
  for (const [k, secs] of cpuUsed) rows.push({ figure: `CPU during the burst: ${k}`, value: secs / burstSecs, unit: 'cores' });
  for (const k of ['ctfe', 'sequencer'] as const) {
    rows.push({ figure: `${k} RSS before`, value: rssBefore[k], unit: 'MiB' });
    rows.push({ figure: `${k} RSS peak during`, value: rssPeak[k], unit: 'MiB', target: rssBefore[k] + 256, goal: 'max' });
    rows.push({ figure: `${k} RSS 5 s after`, value: rssAfter[k], unit: 'MiB', target: rssBefore[k] + 128, goal: 'max' });
  }
  const ok = printTable(`Overload: ${FACTOR}x capacity from ${FLOOD_CLIENTS} clients + one abuser (rotating User-Agent and X-Forwarded-For first hop), MariaDB + Redis, shared 2-core box (noisy)`, rows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
