// Load and watch for the fault battery: pre-generated chains (so generation does not eat the
// CPU of the measured window), an open-loop submitter at a fixed rate whose every submission
// behaves like a CA's client (retry after Retry-After on 503/429, after a pause on a refused
// connection, a 500 or a timeout, until it gets its SCT or the battery gives up), and a
// monitor polling get-sth and the checkpoint that records every tree head it is shown.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { issue, loadIssuer, makeIntermediate } from '../../src/cli/cert-factory.js';
import { verifySth } from '../../src/signing/index.js';
import { parseRfc6962NoteSignature, parseSignedCheckpoint, type SignedEntry, type TreeHead } from '../../src/tls/index.js';
import { b64, fromB64 } from '../../src/util/bytes.js';
import { parseCertificate, precertTbs } from '../../src/x509/index.js';
import { REPO } from '../e2e/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const DEMO_ROOT = join(REPO, 'demo/demo-root.pem');

/** One chain to submit, with the entry its SCT must sign (computed once, before the load). */
export interface Sub {
  n: number;
  endpoint: 'add-chain' | 'add-pre-chain';
  body: string;
  entry: SignedEntry;
}

/**
 * `count` fresh chains under the demo root: half certificates (add-chain), half
 * precertificates (add-pre-chain), every other precertificate through a Precertificate
 * Signing Certificate. One leaf key and one PSC for all, as a CA has (a key per leaf would
 * cost more than the rest). The entry each SCT must sign is rebuilt here once: the
 * battery checks that an SCT belongs to its submission; the e2e tests check the encoding.
 */
export function generateChains(count: number, startN = 0): Sub[] {
  const now = Date.now();
  const notBefore = now - 3600_000;
  const notAfter = now + 90 * 86400_000;
  const root = loadIssuer(readFileSync(DEMO_ROOT, 'utf8'), readFileSync(join(REPO, 'demo/demo-root-key.pem'), 'utf8'));
  const inter = makeIntermediate(root, now);
  const psc = issue(inter, { cn: 'ctlog faults Precertificate Signing', ca: true, psc: true, notBefore, notAfter: notAfter + 86400_000 });
  const [interCert, pscCert] = [parseCertificate(inter.der), parseCertificate(psc.der)];
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
  const out: Sub[] = [];
  for (let i = 0; i < count; i++) {
    const precert = i % 2 === 1;
    const viaPsc = i % 4 === 3;
    const leaf = issue(viaPsc ? psc : inter, { cn: `${randomBytes(8).toString('hex')}.faults.example`, notBefore, notAfter, precert, spki });
    const chain = viaPsc ? [leaf.der, psc.der, inter.der] : [leaf.der, inter.der];
    let entry: SignedEntry = { type: 'x509', certificate: leaf.der };
    if (precert) {
      const { tbs, issuerKeyHash } = precertTbs(parseCertificate(leaf.der), viaPsc ? pscCert : interCert, viaPsc ? interCert : undefined);
      entry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs };
    }
    out.push({ n: startN + i, endpoint: precert ? 'add-pre-chain' : 'add-chain', body: JSON.stringify({ chain: chain.map(b64) }), entry });
  }
  return out;
}

export interface Answer {
  status: number;
  text: string;
  retryAfter: string | undefined;
}

/** One HTTP request over a keep-alive agent; rejects with the error code on a transport error or timeout. */
export function httpRequest(agent: Agent, url: string, method: 'GET' | 'POST', body: string | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), retryAfter: Array.isArray(ra) ? ra[0] : ra });
      });
      res.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? 'response error')));
    });
    // The whole exchange, agent queueing included: what a client's own deadline measures.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    });
    req.end(body);
  });
}

/** What became of one submission. */
export interface Outcome {
  sub: Sub;
  /** The SCT JSON of the 200 answer, if one came. */
  sct?: string;
  /** When the attempt that got the 200 was sent, and when it was answered. */
  sentAt?: number;
  answeredAt?: number;
  attempts: number;
  /** A final refusal (a 4xx other than 429): the body, for the report. */
  refused?: string;
}

export interface LoadOptions {
  /** Submissions started per second. */
  rate: number;
  /** Per-request client timeout. */
  timeoutMs: number;
  /** Longest wait a Retry-After may ask for (a CA caps it too). */
  maxRetryAfterS: number;
  /**
   * Most submissions in flight at once (a CA has so many workers). At the bound new ones are
   * not started, and the rate does not catch up afterwards: an outage must not end in a burst
   * of thousands of clients that a 2-core box cannot answer before they time out.
   */
  maxInFlight: number;
}

/**
 * Open-loop load: a new submission starts every 1/rate s while running, whatever the answers;
 * each retries on its own until it has an SCT or the battery gives up (see finish()).
 */
export class Load {
  readonly outcomes: Outcome[] = [];
  /** Answers by status ("200", "503", "503 without Retry-After", "refused", "timeout", ...). */
  readonly answers = new Map<string, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4096 });
  private next = 0;
  private running = false;
  private ticker: NodeJS.Timeout | undefined;
  private pending = new Set<Promise<void>>();
  private giveUpAt = Infinity;
  /** Milliseconds in which no submission was started because maxInFlight were in flight. */
  heldBackMs = 0;
  private issuedAtResume = 0;
  private resumedAt = 0;

  constructor(
    private readonly submitBase: string,
    private readonly pool: Sub[],
    private readonly o: LoadOptions,
  ) {}

  get issued(): number {
    return this.next;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts (or resumes) issuing new submissions at the fixed rate. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.resumedAt = Date.now();
    this.issuedAtResume = this.next;
    let lastTick = Date.now();
    const tick = () => {
      const now = Date.now();
      const since = now - lastTick;
      lastTick = now;
      if (this.pending.size >= this.o.maxInFlight) {
        this.heldBackMs += since;
        this.issuedAtResume = this.next;
        this.resumedAt = now;
        return;
      }
      const due = this.issuedAtResume + Math.floor(((Date.now() - this.resumedAt) * this.o.rate) / 1000);
      while (this.running && this.next < due && this.next < this.pool.length && this.pending.size < this.o.maxInFlight) this.launch(this.pool[this.next++]!);
    };
    this.ticker = setInterval(tick, 5);
  }

  /** Stops issuing new submissions; those in flight keep retrying. */
  pause(): void {
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Stops issuing, then waits for every submission in flight: retries stop after drainMs. */
  async finish(drainMs: number): Promise<void> {
    this.pause();
    this.giveUpAt = Date.now() + drainMs;
    while (this.pending.size) await Promise.race(this.pending);
    this.agent.destroy();
  }

  /** Waits until nothing is in flight or `ms` passed (without giving up on anything). */
  async drain(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.pending.size && Date.now() < until) await sleep(50);
  }

  private count(key: string): void {
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  private launch(sub: Sub): void {
    const out: Outcome = { sub, attempts: 0 };
    this.outcomes.push(out);
    const p = this.run(out).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async run(out: Outcome): Promise<void> {
    const url = `${this.submitBase}/ct/v1/${out.sub.endpoint}`;
    while (Date.now() < this.giveUpAt) {
      out.attempts++;
      const sentAt = Date.now();
      let a: Answer;
      try {
        a = await httpRequest(this.agent, url, 'POST', out.sub.body, this.o.timeoutMs);
      } catch (err) {
        const code = (err as Error).message;
        this.count(code === 'TIMEOUT' ? 'timeout' : code === 'ECONNREFUSED' ? 'refused' : `transport ${code}`);
        await sleep(500);
        continue;
      }
      if (a.status === 200) {
        this.count('200');
        out.sct = a.text;
        out.sentAt = sentAt;
        out.answeredAt = Date.now();
        return;
      }
      if (a.status === 503 || a.status === 429) {
        const ra = a.retryAfter === undefined ? NaN : Number(a.retryAfter);
        this.count(Number.isFinite(ra) ? String(a.status) : `${a.status} without Retry-After`);
        await sleep(1000 * Math.min(this.o.maxRetryAfterS, Number.isFinite(ra) ? ra : 1));
        continue;
      }
      this.count(a.status >= 500 ? `${a.status} ${errorText(a.text)}` : String(a.status));
      if (a.status >= 400 && a.status < 500) {
        out.refused = `${a.status} ${a.text.slice(0, 200)}`;
        return;
      }
      await sleep(1000); // a 500: a CA retries later
    }
  }
}

function errorText(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: string }).error ?? text;
    return JSON.stringify(e.replace(/\d+/g, 'N').slice(0, 80));
  } catch {
    return JSON.stringify(text.slice(0, 80));
  }
}

/** verifySth, with a malformed signature counted as one that does not verify. */
export function sthVerifies(spki: Uint8Array, head: TreeHead, signature: Uint8Array): boolean {
  try {
    return verifySth(spki, head, signature);
  } catch {
    return false;
  }
}

/** A tree head the read server showed, from get-sth or the checkpoint. */
export interface SeenSth {
  source: 'get-sth' | 'checkpoint';
  /** The read server's base URL. */
  server: string;
  /** When it was fetched. */
  at: number;
  size: number;
  root: string;
  timestamp: number;
  signatureOk: boolean;
}

/**
 * Polls get-sth (every pollMs) and the checkpoint (every other poll) of one shard and keeps
 * every distinct tree head; also when each get-sth request that got a 200 was sent.
 */
export class Monitor {
  readonly seen: SeenSth[] = [];
  readonly readOkSentAt: number[] = [];
  readonly errors = new Map<string, number>();
  private readonly keys = new Set<string>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private stopped = false;
  private loop: Promise<void> | undefined;

  private readonly bases: string[];

  constructor(
    readBase: string,
    private readonly spki: Uint8Array,
    private readonly pollMs = 250,
  ) {
    this.bases = [readBase];
  }

  /** Also polls another read server (e.g. one started later); its get-sth 200s count for recovery too. */
  addReadServer(readBase: string): void {
    this.bases.push(readBase);
  }

  start(): void {
    this.loop = (async () => {
      for (let i = 0; !this.stopped; i++) {
        await Promise.all(this.bases.flatMap((b) => [this.poll(b, 'get-sth'), i % 2 === 0 ? this.poll(b, 'checkpoint') : undefined]));
        await sleep(this.pollMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
  }

  private record(s: SeenSth): void {
    const k = `${s.server} ${s.source} ${s.size} ${s.root} ${s.timestamp}`;
    if (this.keys.has(k)) return;
    this.keys.add(k);
    this.seen.push(s);
  }

  private async poll(base: string, source: SeenSth['source']): Promise<void> {
    const sentAt = Date.now();
    try {
      const a = await httpRequest(this.agent, `${base}/${source === 'get-sth' ? 'ct/v1/get-sth' : 'checkpoint'}`, 'GET', undefined, 3000);
      if (a.status !== 200) {
        const k = `${source} ${a.status}`;
        this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
        return;
      }
      if (source === 'get-sth') {
        if (base === this.bases[0]) this.readOkSentAt.push(sentAt);
        const j = JSON.parse(a.text) as { tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string };
        const root = fromB64(j.sha256_root_hash)!;
        const signatureOk = sthVerifies(this.spki, { timestamp: j.timestamp, treeSize: j.tree_size, rootHash: root }, fromB64(j.tree_head_signature)!);
        this.record({ source, server: base, at: sentAt, size: j.tree_size, root: j.sha256_root_hash, timestamp: j.timestamp, signatureOk });
      } else {
        const cp = parseSignedCheckpoint(a.text);
        const sig = parseRfc6962NoteSignature(cp.signatures[0]!.signature);
        const signatureOk = sthVerifies(this.spki, { timestamp: sig.timestamp, treeSize: cp.treeSize, rootHash: cp.rootHash }, sig.treeHeadSignature);
        this.record({ source, server: base, at: sentAt, size: cp.treeSize, root: b64(cp.rootHash), timestamp: sig.timestamp, signatureOk });
      }
    } catch (err) {
      const k = `${source} ${(err as Error).message}`;
      this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
    }
  }
}
