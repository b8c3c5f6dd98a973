// `ctlog load`: an open-loop submission generator (as bench/'s e2e driver): request k is sent
// at start + k / rate whatever the log answers, and its latency is measured from that
// scheduled time, so a slow log cannot hide its queueing in the client (coordinated
// omission). Every Nth SCT is verified and followed until get-proof-by-hash proves it
// included in a fresh, verified STH.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { verifyInclusion } from '../../merkle/index.js';
import { verifySth } from '../../signing/index.js';
import { sctFromJson } from '../../tls/index.js';
import { b64 } from '../../util/bytes.js';
import { CtClient } from '../monitor/ct-client.js';
import { TestIssuer, type TestCert } from '../test-issuer.js';
import { LatencySummary } from './latency-summary.js';
import { pick, type LoadMix } from './load-mix.js';
import { LoadMetrics } from '../../metrics/metrics.js';

export interface LoadOptions {
  /** The log's base URL (…/<shard>/). */
  url: string;
  /** The log key (DER SPKI): SCTs and STHs are verified when given. */
  key?: Uint8Array;
  ratePerSecond: number;
  /** Infinity runs until stop(). */
  durationMs: number;
  mix: LoadMix;
  issuer: TestIssuer;
  /** NotAfter of every leaf (inside the shard's temporal window). */
  notAfter: number;
  /** Check every Nth SCT for inclusion; 0: none. */
  inclusionEvery: number;
  mmdSeconds: number;
  /** After the run, wait at most this long for sampled SCTs still pending. */
  drainMs: number;
  maxInFlight: number;
  sockets: number;
  timeoutMs: number;
  metrics?: LoadMetrics;
  /** Called every progressMs with the totals so far. */
  onProgress?: (s: LoadSnapshot) => void;
  progressMs?: number;
  random?: () => number;
}

export interface LoadSnapshot {
  elapsedMs: number;
  /** From the start to the latest answer: the achieved rate is answered / this. */
  answeringMs: number;
  sent: number;
  answered: number;
  dropped: number;
  /** Answers by HTTP status ('0': no answer). */
  byStatus: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  inclusion: { sampled: number; included: number; pending: number; overdue: number; badSct: number; badProof: number; p50Ms: number };
  /** Problems found in sampled SCTs and proofs (bounded to the first 20). */
  errors: string[];
}

interface Pending {
  leafHash: Uint8Array;
  sctTimestamp: number;
  overdue: boolean;
}

const RECENT = 1000;
const MAX_PENDING = 10_000;

export class LoadGenerator {
  readonly metrics: LoadMetrics;
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly byStatus: Record<string, number> = {};
  private readonly latency = new LatencySummary();
  private readonly inclusionLatency = new LatencySummary();
  private maxLatency = 0;
  private sent = 0;
  private answered = 0;
  private dropped = 0;
  private inFlight = 0;
  private okCount = 0;
  private readonly recent: TestCert[] = [];
  private readonly pending: Pending[] = [];
  private readonly inc = { sampled: 0, included: 0, overdue: 0, badSct: 0, badProof: 0 };
  private readonly errors: string[] = [];
  private startedAt = 0;
  private lastAnswerAt = 0;
  private readonly client: CtClient;

  constructor(private readonly o: LoadOptions) {
    this.metrics = o.metrics ?? new LoadMetrics();
    this.client = new CtClient(o.url, o.timeoutMs);
  }

  /** Ends the run early (SIGINT): nothing more is scheduled; what is in flight is answered. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  snapshot(): LoadSnapshot {
    return {
      elapsedMs: Date.now() - this.startedAt,
      answeringMs: this.lastAnswerAt - this.startedAt,
      sent: this.sent,
      answered: this.answered,
      dropped: this.dropped,
      byStatus: { ...this.byStatus },
      latencyMs: { p50: this.latency.quantile(0.5), p90: this.latency.quantile(0.9), p99: this.latency.quantile(0.99), max: this.maxLatency },
      inclusion: { ...this.inc, pending: this.pending.length, p50Ms: this.inclusionLatency.quantile(0.5) },
      errors: [...this.errors],
    };
  }

  private error(msg: string): void {
    if (this.errors.length < 20) this.errors.push(msg);
  }

  async run(): Promise<LoadSnapshot> {
    const o = this.o;
    const random = o.random ?? Math.random;
    const u = new URL(o.url.endsWith('/') ? o.url : `${o.url}/`);
    const https = u.protocol === 'https:';
    const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: o.sockets }) : new HttpAgent({ keepAlive: true, maxSockets: o.sockets });
    const send = https ? httpsRequest : httpRequest;
    this.metrics.targetRate.set(o.ratePerSecond);
    const interval = 1000 / o.ratePerSecond;
    this.startedAt = Date.now();
    const start = performance.now();
    const progress = o.onProgress ? setInterval(() => o.onProgress!(this.snapshot()), o.progressMs ?? 1000) : undefined;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        await new Promise<void>((r) => setTimeout(r, 1000));
        if (this.pending.length) await this.checkInclusion().catch((err: Error) => this.error(`inclusion check: ${err.message}`));
      }
    })();

    let allAnswered: () => void = () => {};
    const submit = (k: number) => {
      const at = start + k * interval;
      const choice = pick(o.mix, random);
      let cert: TestCert;
      if (choice.duplicate && this.recent.length) cert = this.recent[Math.floor(random() * this.recent.length)]!;
      else {
        const now = Date.now();
        const notBefore = choice.old ? now - 200 * 86400_000 : now - 3600_000;
        cert = o.issuer.make(choice.kind, Math.min(notBefore, o.notAfter - 86400_000), o.notAfter, now);
        if (this.recent.length < RECENT) this.recent.push(cert);
        else this.recent[k % RECENT] = cert;
      }
      const endpoint = cert.kind === 'x509' ? 'add-chain' : 'add-pre-chain';
      const body = JSON.stringify({ chain: cert.chain.map(b64) });
      this.sent++;
      this.inFlight++;
      this.metrics.inFlight.set(this.inFlight);
      let finished = false;
      const finish = (status: number, text: string) => {
        if (finished) return;
        finished = true;
        const ms = performance.now() - at;
        this.inFlight--;
        this.answered++;
        this.lastAnswerAt = Date.now();
        this.metrics.inFlight.set(this.inFlight);
        this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
        this.metrics.requests.inc({ endpoint, code: String(status) });
        this.metrics.sctLatency.observe({ endpoint }, ms / 1000);
        this.latency.add(ms);
        this.maxLatency = Math.max(this.maxLatency, ms);
        if (status === 200 && o.inclusionEvery > 0 && ++this.okCount % o.inclusionEvery === 0) this.sample(cert, text);
        if (this.inFlight === 0) allAnswered();
      };
      const req = send(
        { host: u.hostname, port: u.port, path: `${u.pathname}ct/v1/${endpoint}`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
          res.on('error', () => finish(0, ''));
        },
      );
      req.setTimeout(o.timeoutMs, () => req.destroy(new Error('client timeout')));
      req.on('error', () => finish(0, ''));
      req.end(body);
    };

    // The open loop: every request whose time has come is sent (or dropped past maxInFlight).
    const end = start + o.durationMs;
    for (let k = 0; !this.stopped; ) {
      const now = performance.now();
      // Everything scheduled before the end is sent, even when this tick comes late.
      while (start + k * interval <= now && start + k * interval < end && !this.stopped) {
        if (this.inFlight >= o.maxInFlight) {
          this.dropped++;
          this.metrics.dropped.inc();
        } else submit(k);
        k++;
      }
      if (now >= end) break;
      const wait = Math.max(0, Math.min(start + k * interval - performance.now(), 50));
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, wait);
      });
    }
    if (this.inFlight > 0) await new Promise<void>((r) => (allAnswered = r));
    const drainUntil = Date.now() + o.drainMs;
    while (this.pending.some((p) => !p.overdue) && Date.now() < drainUntil && !this.stopped) {
      await new Promise((r) => setTimeout(r, 500));
    }
    polling = false;
    await poller;
    clearInterval(progress);
    agent.destroy();
    return this.snapshot();
  }

  private sample(cert: TestCert, text: string): void {
    this.inc.sampled++;
    try {
      const sct = sctFromJson(JSON.parse(text));
      if (this.o.key && !TestIssuer.sctValid(this.o.key, sct, cert)) throw new Error('the SCT signature does not verify with the log key');
      if (this.pending.length >= MAX_PENDING) return; // the log is far behind; the overdue count says so
      this.pending.push({ leafHash: TestIssuer.leafHash(sct, cert), sctTimestamp: sct.timestamp, overdue: false });
    } catch (err) {
      this.inc.badSct++;
      this.metrics.inclusion.inc({ result: 'bad_sct' });
      this.error(`bad SCT: ${(err as Error).message}`);
    }
  }

  private async checkInclusion(): Promise<void> {
    const sth = await this.client.getSth();
    if (this.o.key && !verifySth(this.o.key, sth, sth.signature)) throw new Error(`get-sth: the signature of tree size ${sth.treeSize} does not verify`);
    const now = Date.now();
    // At most 100 proofs a second: sampling is what keeps this cheap for the log.
    for (const p of this.pending.slice(0, 100)) {
      const proof = sth.treeSize > 0 ? await this.client.getProofByHash(p.leafHash, sth.treeSize) : undefined;
      if (proof) {
        this.pending.splice(this.pending.indexOf(p), 1);
        try {
          verifyInclusion(p.leafHash, proof.leafIndex, sth.treeSize, proof.auditPath, sth.rootHash);
          this.inc.included++;
          this.metrics.inclusion.inc({ result: 'included' });
          this.inclusionLatency.add(now - p.sctTimestamp);
          this.metrics.inclusionLatency.observe(Math.max(0, now - p.sctTimestamp) / 1000);
        } catch (err) {
          this.inc.badProof++;
          this.metrics.inclusion.inc({ result: 'bad_proof' });
          this.error(`bad inclusion proof at index ${proof.leafIndex}: ${(err as Error).message}`);
        }
      } else if (!p.overdue && now - p.sctTimestamp > this.o.mmdSeconds * 1000) {
        p.overdue = true;
        this.inc.overdue++;
        this.metrics.inclusion.inc({ result: 'overdue' });
        this.error(`an SCT from ${new Date(p.sctTimestamp).toISOString()} is not included after the MMD of ${this.o.mmdSeconds} s`);
      }
    }
  }
}

/** One line of live progress (and the summary's first line). */
export function formatSnapshot(s: LoadSnapshot, targetRate: number): string {
  const ms = (v: number) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(1) : Math.round(v).toString()) : '-');
  const codes = Object.entries(s.byStatus).map(([c, n]) => `${c === '0' ? 'no-answer' : c}:${n}`).join(' ') || '-';
  const rate = s.answeringMs > 0 ? (s.answered / (s.answeringMs / 1000)).toFixed(1) : '0';
  const i = s.inclusion;
  return (
    `${(s.elapsedMs / 1000).toFixed(0)}s sent ${s.sent}${s.dropped ? ` dropped ${s.dropped}` : ''} answered ${s.answered} (${rate}/s of ${targetRate}/s) | ${codes} | ` +
    `SCT p50 ${ms(s.latencyMs.p50)} p90 ${ms(s.latencyMs.p90)} p99 ${ms(s.latencyMs.p99)} max ${ms(s.latencyMs.max)} ms | ` +
    `inclusion ${i.included}/${i.sampled} ok, ${i.pending} pending${i.overdue ? `, ${i.overdue} OVERDUE` : ''}${i.badSct ? `, ${i.badSct} BAD SCT` : ''}${i.badProof ? `, ${i.badProof} BAD PROOF` : ''}`
  );
}
