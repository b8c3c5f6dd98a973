// Load-generation helpers for the e2e and read benchmarks: TypeScript worker threads (so the
// client is not the bottleneck on a 2-core box), an open-loop and a closed-loop HTTP driver,
// chain generation and SCT verification in workers, and per-process CPU accounting from /proc.
//
// This file is both a module (imported by bench/*.ts) and the entry point of every worker it
// starts: a worker runs the job named by workerData.job and posts back its result.
import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { issue, type Issuer as CaIssuer } from '../src/cli/cert-factory.js';
import { leafHash } from '../src/merkle/index.js';
import type { Issuer as QueueIssuer, Submission } from '../src/queue/submission.js';
import { verifySct } from '../src/signing/index.js';
import { decodeCtExtensions, encodeMerkleTreeLeaf, sctFromJson } from '../src/tls/index.js';
import { b64 } from '../src/util/bytes.js';
import { PublicKeyCache, RootStore, parseCertificate, validateChain } from '../src/x509/index.js';

// The ESM entry of tsx's API: a worker registers it before importing this TypeScript file.
const TSX_API = import.meta.resolve('tsx/esm/api');

/** Wall-clock milliseconds comparable across worker threads (performance.now is per thread). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** Progress a worker reports while it runs: requests sent and answered so far. */
export interface Progress {
  sent: number;
  done: number;
}

/**
 * Starts one worker thread per job (each loads this file through tsx) and resolves once all
 * of them are loaded and idle, so start-up CPU and time stay out of what is measured.
 * `go()` then starts every job and resolves with their results in job order; `onProgress`
 * sees progress messages with the index of the job that sent them.
 */
export async function prepareWorkers<T>(jobs: Job[], onProgress?: (w: number, p: Progress) => void): Promise<{ go(late?: Record<string, unknown>): Promise<T[]> }> {
  const src = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const started = jobs.map((job, w) => {
    const worker = new Worker(src, { eval: true, workerData: job });
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const result = new Promise<T>((resolve, reject) => {
      worker.on('message', (m: { ready?: true; progress?: Progress; result?: T }) => {
        if (m.ready) ready();
        else if (m.progress) onProgress?.(w, m.progress);
        else resolve(m.result as T);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${job.job} exited with ${code} before answering`)));
    });
    result.catch(() => {}); // surfaced by go(); a failure before go() must not be unhandled
    return { worker, isReady: Promise.race([isReady, result.then(() => {})]), result };
  });
  await Promise.all(started.map((s) => s.isReady));
  return {
    /** Starts every job; `late` fields (e.g. an open loop's start time) are set on each job first. */
    go(late = {}) {
      for (const s of started) s.worker.postMessage(late);
      return Promise.all(started.map((s) => s.result));
    },
  };
}

/** Runs one job in a worker thread and resolves with its result. */
export async function runWorker<T>(job: Job, onProgress?: (p: Progress) => void): Promise<T> {
  const [r] = await (await prepareWorkers<T>([job], (_, p) => onProgress?.(p))).go();
  return r!;
}

export type Job = SubsJob | GenJob | OpenLoopJob | ClosedLoopJob | VerifyJob;

// ---------------------------------------------------------------- chain generation

/** Makes `count` add-pre-chain bodies under one intermediate; every `pscEvery`-th through a PSC. */
export interface GenJob {
  job: 'gen';
  count: number;
  intermediateDer: Uint8Array;
  intermediateKeyPem: string;
  leafSpki: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** Odd-numbered bodies go through a Precertificate Signing Certificate when true. */
  halfPsc: boolean;
}

function genBodies(j: GenJob): string[] {
  const c = parseCertificate(j.intermediateDer);
  const key = createPrivateKey(j.intermediateKeyPem);
  const intermediate: CaIssuer = { der: j.intermediateDer, key, subject: c.subject, spki: c.spki };
  const leafKey = createPublicKey({ key: Buffer.from(j.leafSpki), format: 'der', type: 'spki' });
  // One PSC per worker, as a CA would have one; RFC 6962 §3.1.
  const psc = issue(intermediate, { cn: 'ctlog bench Precertificate Signing', ca: true, psc: true, notBefore: j.notBefore, notAfter: j.notAfter + 86400_000 });
  const out: string[] = [];
  for (let i = 0; i < j.count; i++) {
    const viaPsc = j.halfPsc && i % 2 === 1;
    const cn = `${randomBytes(8).toString('hex')}.bench.example`;
    const leaf = issue(viaPsc ? psc : intermediate, { cn, notBefore: j.notBefore, notAfter: j.notAfter, precert: true, publicKey: leafKey });
    const chain = viaPsc ? [leaf.der, psc.der, intermediate.der] : [leaf.der, intermediate.der];
    out.push(JSON.stringify({ chain: chain.map(b64) }));
  }
  return out;
}

/**
 * Makes `count` validated submissions (what a CTFE hands the sequencer) from real chains:
 * even ones certificates, odd ones precertificates, every other precertificate through a PSC.
 */
export interface SubsJob {
  job: 'subs';
  count: number;
  rootDer: Uint8Array;
  intermediateDer: Uint8Array;
  intermediateKeyPem: string;
  leafSpki: Uint8Array;
  notBefore: number;
  notAfter: number;
}

export interface GeneratedSubmissions {
  subs: Submission[];
  /** Every chain certificate the submissions cite, once. */
  issuers: QueueIssuer[];
}

function genSubmissions(j: SubsJob): GeneratedSubmissions {
  const c = parseCertificate(j.intermediateDer);
  const intermediate: CaIssuer = { der: j.intermediateDer, key: createPrivateKey(j.intermediateKeyPem), subject: c.subject, spki: c.spki };
  const leafKey = createPublicKey({ key: Buffer.from(j.leafSpki), format: 'der', type: 'spki' });
  const psc = issue(intermediate, { cn: 'ctlog bench Precertificate Signing', ca: true, psc: true, notBefore: j.notBefore, notAfter: j.notAfter + 86400_000 });
  const roots = RootStore.fromCerts([j.rootDer]);
  const keys = new PublicKeyCache();
  const policy = { roots, notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), now: j.notBefore };
  const issuers = new Map<string, QueueIssuer>();
  const subs: Submission[] = [];
  for (let i = 0; i < j.count; i++) {
    const kind = i % 2 === 0 ? 'x509' : 'precert';
    const viaPsc = i % 4 === 3;
    const cn = `${randomBytes(8).toString('hex')}.bench.example`;
    const leaf = issue(viaPsc ? psc : intermediate, { cn, notBefore: j.notBefore, notAfter: j.notAfter, precert: kind === 'precert', publicKey: leafKey });
    const v = validateChain(kind, viaPsc ? [leaf.der, psc.der, intermediate.der] : [leaf.der, intermediate.der], policy, keys);
    for (const x of v.chain) issuers.set(b64(x.fingerprint), { fingerprint: x.fingerprint, der: x.der });
    subs.push({ identity: v.identity, entry: v.entry, cert: v.leaf.der, chain: v.chain.map((x) => x.fingerprint) });
  }
  return { subs, issuers: [...issuers.values()] };
}

// ---------------------------------------------------------------- open-loop driver

/**
 * Sends bodies[k] at `startAt + ids[k] * intervalMs` whatever the answers (open loop), over
 * keep-alive connections. Latency is measured from the scheduled send time, so a slow
 * server cannot hide its queueing in the client (coordinated omission).
 */
export interface OpenLoopJob {
  job: 'open';
  url: string;
  bodies: string[];
  ids: number[];
  startAt: number;
  intervalMs: number;
  sockets: number;
  timeoutMs: number;
  /** Extra request headers per body (e.g. X-Forwarded-For, User-Agent); none when absent. */
  headers?: Array<Record<string, string>>;
}

export interface OpenLoopResult {
  ids: number[];
  /** HTTP status, or 0 for a transport error / client timeout. */
  status: number[];
  latencyMs: number[];
  /** The response body of every 200, else ''. */
  bodies: string[];
}

async function openLoop(j: OpenLoopJob): Promise<OpenLoopResult> {
  const url = new URL(j.url);
  const agent = new Agent({ keepAlive: true, maxSockets: j.sockets });
  const n = j.bodies.length;
  const res: OpenLoopResult = { ids: j.ids, status: new Array(n).fill(-1), latencyMs: new Array(n).fill(NaN), bodies: new Array(n).fill('') };
  let sent = 0;
  let done = 0;
  const report = setInterval(() => parentPort!.postMessage({ progress: { sent, done } }), 1000);
  await new Promise<void>((allDone) => {
    const finish = (k: number, status: number, body: string) => {
      res.status[k] = status;
      res.latencyMs[k] = nowMs() - (j.startAt + j.ids[k]! * j.intervalMs);
      res.bodies[k] = status === 200 ? body : '';
      if (++done === n) allDone();
    };
    const send = (k: number) => {
      const body = j.bodies[k]!;
      const req = request(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...j.headers?.[k], 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => finish(k, r.statusCode ?? 0, Buffer.concat(chunks).toString()));
          r.on('error', () => finish(k, 0, ''));
        },
      );
      req.setTimeout(j.timeoutMs, () => req.destroy(new Error('client timeout')));
      req.on('error', () => {
        if (res.status[k] === -1) finish(k, 0, '');
      });
      req.end(body);
    };
    const tick = () => {
      const now = nowMs();
      while (sent < n && j.startAt + j.ids[sent]! * j.intervalMs <= now) send(sent++);
      if (sent < n) setTimeout(tick, 1);
    };
    if (n === 0) allDone();
    else tick();
  });
  clearInterval(report);
  agent.destroy();
  return res;
}

// ---------------------------------------------------------------- closed-loop driver

/** GETs `paths` in order with `concurrency` requests in flight (closed loop). */
export interface ClosedLoopJob {
  job: 'closed';
  url: string;
  paths: string[];
  concurrency: number;
}

export interface ClosedLoopResult {
  seconds: number;
  done: number;
  bytes: number;
  /** Non-200 answers and transport errors. */
  bad: number;
  latencyMs: number[];
}

async function closedLoop(j: ClosedLoopJob): Promise<ClosedLoopResult> {
  const url = new URL(j.url);
  const agent = new Agent({ keepAlive: true, maxSockets: j.concurrency });
  const latencyMs: number[] = [];
  let next = 0;
  let bytes = 0;
  let bad = 0;
  const t0 = performance.now();
  const one = async (): Promise<void> => {
    while (next < j.paths.length) {
      const path = j.paths[next++]!;
      const t = performance.now();
      await new Promise<void>((done) => {
        const req = request({ host: url.hostname, port: url.port, path, agent }, (r) => {
          if (r.statusCode !== 200) bad++;
          r.on('data', (c: Buffer) => (bytes += c.length));
          r.on('end', done);
          r.on('error', () => (bad++, done()));
        });
        req.on('error', () => (bad++, done()));
        req.end();
      });
      latencyMs.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: j.concurrency }, one));
  agent.destroy();
  return { seconds: (performance.now() - t0) / 1000, done: latencyMs.length, bytes, bad, latencyMs };
}

// ---------------------------------------------------------------- SCT verification

/**
 * For each (add-pre-chain body, SCT JSON) pair: validates the chain as the CTFE must have
 * (src/x509 validateChain), checks the SCT's signature over that entry with the log key,
 * decodes its leaf_index extension and returns the MerkleTreeLeaf hash the log must hold there.
 */
export interface VerifyJob {
  job: 'verify';
  bodies: string[];
  scts: string[];
  logSpki: Uint8Array;
  rootPem: string;
}

export interface VerifiedSct {
  leafIndex: number;
  timestamp: number;
  leafHash: Uint8Array;
  /** Why this SCT is not valid, or '' when it is. */
  error: string;
}

function verifyScts(j: VerifyJob): VerifiedSct[] {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(j.rootPem)!;
  const roots = RootStore.fromCerts([new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'))]);
  const keys = new PublicKeyCache();
  const logKey = createPublicKey({ key: Buffer.from(j.logSpki), format: 'der', type: 'spki' });
  return j.bodies.map((body, k) => {
    try {
      const chain = (JSON.parse(body) as { chain: string[] }).chain.map((c) => new Uint8Array(Buffer.from(c, 'base64')));
      const v = validateChain('precert', chain, { roots, notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), now: 0 }, keys);
      const sct = sctFromJson(JSON.parse(j.scts[k]!));
      if (!verifySct(logKey, sct, v.entry)) return { leafIndex: -1, timestamp: sct.timestamp, leafHash: new Uint8Array(0), error: 'SCT signature does not verify' };
      const { leafIndex } = decodeCtExtensions(sct.extensions);
      if (leafIndex === undefined) return { leafIndex: -1, timestamp: sct.timestamp, leafHash: new Uint8Array(0), error: 'SCT has no leaf_index extension' };
      const leaf = encodeMerkleTreeLeaf({ timestamp: sct.timestamp, entry: v.entry, extensions: sct.extensions });
      return { leafIndex, timestamp: sct.timestamp, leafHash: leafHash(leaf), error: '' };
    } catch (err) {
      return { leafIndex: -1, timestamp: 0, leafHash: new Uint8Array(0), error: String(err) };
    }
  });
}

// ---------------------------------------------------------------- CPU accounting

const TICKS = Number(safeExec('getconf', ['CLK_TCK']) || 100);

function safeExec(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat utime + stime), NaN if gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS; // utime, stime: fields 14 and 15
  } catch {
    return NaN;
  }
}

/**
 * `pid` and every process below it (a front end's cluster workers), from /proc. A process
 * that already exited is missed, as is its CPU: call it once the processes are up.
 */
export function withDescendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of safeReaddir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone between the listing and the read
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Pids of the shared services the benchmarks use: the process listening on the MariaDB and
 * the Redis port (tests start private servers of both, which must not be counted); by
 * program name when `ss` cannot tell.
 */
export function servicePids(): Record<string, number[]> {
  const port = (url: string | undefined, dflt: number) => {
    try {
      return Number(new URL(url ?? '').port) || dflt;
    } catch {
      return dflt;
    }
  };
  const listening = (p: number) => {
    const m = /pid=(\d+)/.exec(safeExec('ss', ['-ltnpH', `sport = :${p}`]));
    return m ? [Number(m[1])] : [];
  };
  const pids = (name: string) => safeExec('pidof', [name]).split(/\s+/).filter(Boolean).map(Number);
  const db = listening(port(process.env.CTLOG_BENCH_MYSQL, 3306));
  const redis = listening(port(process.env.CTLOG_BENCH_REDIS, 6379));
  return { mariadbd: db.length ? db : pids('mariadbd'), 'redis-server': redis.length ? redis : pids('redis-server') };
}

/** CPU seconds used between two points, per named process group; `self` is this process (all threads). */
export class CpuWatch {
  private start = new Map<string, number>();
  constructor(private readonly groups: Record<string, number[]>) {}

  private sample(): Map<string, number> {
    const m = new Map<string, number>();
    // /proc/stat "cpu" line: user nice system idle iowait irq softirq steal (all cores, in ticks).
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    m.set('whole machine busy (every tenant)', (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / TICKS);
    m.set('whole machine idle + iowait', (f[3]! + f[4]!) / TICKS);
    m.set('whole machine steal (hypervisor)', (f[7] ?? 0) / TICKS);
    for (const [name, pids] of Object.entries(this.groups)) m.set(name, pids.reduce((a, p) => a + cpuSeconds(p), 0));
    const u = process.cpuUsage();
    m.set('load generator (this process)', (u.user + u.system) / 1e6);
    return m;
  }

  begin(): void {
    this.start = this.sample();
  }

  /** CPU seconds per group since begin(). */
  end(): Map<string, number> {
    const now = this.sample();
    const out = new Map<string, number>();
    for (const [k, v] of now) out.set(k, v - (this.start.get(k) ?? 0));
    return out;
  }
}

/** sha256 as bytes. */
export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

// ---------------------------------------------------------------- worker entry

if (!isMainThread && workerData && typeof (workerData as Job).job === 'string') {
  const j = workerData as Job;
  parentPort!.postMessage({ ready: true });
  Object.assign(j, await new Promise<Record<string, unknown>>((go) => parentPort!.once('message', go)));
  const result =
    j.job === 'subs' ? genSubmissions(j) : j.job === 'gen' ? genBodies(j) : j.job === 'open' ? await openLoop(j) : j.job === 'closed' ? await closedLoop(j) : verifyScts(j);
  parentPort!.postMessage({ result });
  // Let the message flush, then end even if keep-alive sockets linger.
  setTimeout(() => process.exit(0), 50).unref();
}

/** A ctfe's refusals so far by cause, summed over shards and endpoints (its /metrics: the whole worker group's). */
export async function refusalsByCause(base: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  for (const m of text.matchAll(/^ctlog_refused_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$/gm)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  return out;
}
