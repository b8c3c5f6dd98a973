// The CTFE: add-chain and add-pre-chain (RFC 6962 §4.1, §4.2) as a plain node:http handler
// (docs/DESIGN.md "The write path"). It validates the chain against the shard's roots and
// window, hands the submission to the queue and answers with the SCT the sequencer signed
// after committing the entry. It holds no private key and keeps no state but caches.
//
// Per-request cost is the budget of docs/PERFORMANCE.md: no framework, no full X.509 parse (the
// DER walk of src/x509), issuer keys cached in one PublicKeyCache, base64 by Buffer.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentLabels } from '../http/agent-label.js';
import { clientAddress, clientKey, type TrustedProxies } from '../http/client-address.js';
import type { LoadSignal } from '../http/load-monitor.js';
import { currentState, type ShardRuntime } from '../http/shard-runtime.js';
import { sendError, sendJson } from '../http/respond.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SubmissionQueue } from '../queue/queue.js';
import type { Issuer, Sequenced, Submission } from '../queue/submission.js';
import { ecdsaDerToRaw } from '../signing/ecdsa-der.js';
import { verifySct } from '../signing/index.js';
import { decodeDigitallySigned, HASH_SHA256, SIG_ECDSA, sctSignedDigest, sctToJson, type Sct } from '../tls/index.js';
import { equal } from '../util/bytes.js';
import { CtError, unavailable } from '../util/errors.js';
import { PublicKeyCache, parseCertificate, validateChain, type ChainPolicy, type ParsedCert } from '../x509/index.js';
import { parseChainBody } from './parse-chain.js';
import { AdmissionLimit } from './admission-limit.js';
import { priorityOf } from './priority.js';
import { QueueDelay } from './queue-delay.js';
import type { RateLimiter } from './rate-limiter.js';
import { BodyBudget, ClientGoneError, readBody } from './read-body.js';

export interface CtfeDeps {
  queue: SubmissionQueue;
  shards: ShardRuntime[];
  metrics?: Metrics;
  log?: Logger;
  /** ms since the epoch: "now" for the expiry check. */
  clock: () => number;
  /** Max request body bytes. @defaultValue 512 KiB */
  maxBodyBytes?: number;
  /** Per-client rate limit, keyed by IPv4 address or IPv6 /64 (429); none when absent. */
  rateLimit?: RateLimiter;
  /** Admission control beyond the per-client limit: priorities, quotas, load shedding. */
  admission?: AdmissionOptions;
  /**
   * Submissions waiting for the sequencer (per shard, as seen by this replica) at which
   * add-pre-chain is refused with 503. add-chain is refused earlier, at 80 % of it: a CA
   * cannot issue until it has its precertificate SCTs, while a final certificate's
   * submission can wait. Keep it below the queue's own maxInFlight. @defaultValue 15000
   */
  maxQueueDepth?: number;
  /**
   * Proxies whose X-Forwarded-For entries are believed: the client is the rightmost entry
   * not added by one of them. None: the TCP peer is the client.
   */
  trustedProxies?: TrustedProxies;
  /**
   * Verify the ECDSA signature of every SCT before answering 200, not only of one SCT per
   * queue message (docs/DESIGN.md "Every answer belongs to its submission"). Every answer is
   * bound to its submission either way; this adds about one ECDSA verify per submission,
   * against a signer fault that would corrupt single signatures. @defaultValue false
   */
  verifyEverySct?: boolean;
}

/**
 * Admission control (README "Admission"). Everything that can refuse a request before its
 * body is read is checked first and costs no I/O but the per-client limit's.
 */
export interface AdmissionOptions {
  /** How late the event loop may run (ms) before every submission is shed with 503; low priority at half of it. @defaultValue 200 */
  shedLagMs?: number;
  /** The lag source; none: the lag never sheds. */
  load?: LoadSignal;
  /**
   * Submissions held at once below which the lag sheds nothing: with so few, the loop is late
   * for some other reason (a slow or shared machine), and refusing them would not help it.
   * @defaultValue 16
   */
  lagMinPending?: number;
  /** Submissions this front end holds at once (reading, validating, awaiting the SCT); beyond: 503. Low priority beyond half. @defaultValue 16384 */
  maxPending?: number;
  /**
   * The time an admitted submission may take to be answered (ms): submissions admitted at
   * once are capped at the recent answer rate times this (src/ctfe/admission-limit.ts), and
   * the rest get 503 before their body is read. add-chain gets 80 % of the cap, low
   * priority half. Keep it well above the SCT latency at normal load. @defaultValue 250
   */
  maxLatencyMs?: number;
  /**
   * The standing wait for an SCT (ms, the minimum over 500 ms windows, per shard) above which
   * new submissions get 503: the pipeline behind the CTFE is saturated. Low priority at half
   * of it. @defaultValue 1000
   */
  maxQueueDelayMs?: number;
  /** Bytes of request bodies held at once, all requests together; beyond: 503. @defaultValue 64 MiB */
  maxBodyBytesBuffered?: number;
  /** An add-chain leaf whose notBefore is older than this (ms) is low priority. @defaultValue 48 h */
  oldNotBeforeMs?: number;
  /** Budget of all low-priority submissions together (key "low"); beyond: 503. None: unlimited. */
  lowPriorityLimit?: RateLimiter;
  /** Quota per issuing CA (key: hex SHA-256 of its SubjectPublicKeyInfo); beyond: 429. None: no quota. */
  issuerLimit?: RateLimiter;
}

/** Refusals that are the log's load, not the request's fault: counted apart by cause. */
const REFUSALS = new Set([429, 503]);

export interface Ctfe {
  /**
   * Serves the request if its path is `<prefix>/ct/v1/add-chain` or `.../add-pre-chain`
   * of a known shard and returns true; otherwise returns false and leaves req and res
   * untouched. Never throws; every answer to bad input is a 4xx.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Answers new requests 503, then resolves once the requests in flight are answered. Idempotent. */
  close(): Promise<void>;
}

type Endpoint = 'add-chain' | 'add-pre-chain';

interface Route {
  shard: ShardRuntime;
  kind: 'x509' | 'precert';
  endpoint: Endpoint;
  /** Queue depth at which this endpoint answers 503. */
  depthLimit: number;
  /** The part of the admission cap this endpoint may fill (add-pre-chain first). */
  share: number;
}

// The refusal of a front end past its capacity, written before anything else is done for
// the request: it is what most of a flood gets, so it is built once.
const SHED_BODY = JSON.stringify({ error: 'the log is overloaded; retry shortly' });
const SHED_HEADERS = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(SHED_BODY)), 'Retry-After': '1' };
/**
 * A refused request whose body is at most this long keeps its keep-alive connection (node
 * discards the body): closing it would make the client connect again, which costs the
 * server more than reading a few kilobytes.
 */
const DISCARD_BODY_MAX = 64 * 1024;
const smallBody = (req: IncomingMessage) => Number(req.headers['content-length'] ?? Infinity) <= DISCARD_BODY_MAX;

const DEFAULT_MAX_BODY = 512 * 1024;
const DEFAULT_MAX_DEPTH = 15000;
const HOUR = 3_600_000;

export function createCtfe(deps: CtfeDeps): Ctfe {
  const maxBody = deps.maxBodyBytes ?? DEFAULT_MAX_BODY;
  if (!Number.isSafeInteger(maxBody) || maxBody < 1024) throw new RangeError(`maxBodyBytes must be an integer >= 1024, got ${maxBody}`);
  const maxDepth = deps.maxQueueDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isSafeInteger(maxDepth) || maxDepth < 1) throw new RangeError(`maxQueueDepth must be a positive integer, got ${maxDepth}`);
  const { queue, metrics, log, clock, rateLimit } = deps;
  const adm = deps.admission ?? {};
  const shedLag = adm.shedLagMs ?? 200;
  const maxPending = adm.maxPending ?? 16384;
  const oldNotBefore = adm.oldNotBeforeMs ?? 48 * HOUR;
  const maxDelay = adm.maxQueueDelayMs ?? 1000;
  const lagMinPending = adm.lagMinPending ?? 16;
  /** The event loop's lag (ms) as far as it is ours to shed: 0 while few submissions are held. */
  const lagMs = () => (inFlight >= lagMinPending ? (adm.load?.lagMs ?? 0) : 0);
  if (!(maxDelay > 0)) throw new RangeError(`maxQueueDelayMs must be > 0, got ${maxDelay}`);
  const delays = new Map(deps.shards.map((s) => [s.config.name, new QueueDelay()]));
  if (!(shedLag > 0)) throw new RangeError(`shedLagMs must be > 0, got ${shedLag}`);
  if (!Number.isSafeInteger(maxPending) || maxPending < 1) throw new RangeError(`maxPending must be a positive integer, got ${maxPending}`);
  if (!(oldNotBefore > 0)) throw new RangeError(`oldNotBeforeMs must be > 0, got ${oldNotBefore}`);
  const bodies = new BodyBudget(adm.maxBodyBytesBuffered ?? 64 * 1024 * 1024);
  const admitted = new AdmissionLimit({ latencyMs: adm.maxLatencyMs ?? 250, min: Math.min(128, maxPending), max: maxPending });
  const agents = new AgentLabels();
  const verifyEvery = deps.verifyEverySct ?? false;
  /** Per queue message (its answers share one `batch` object): whether the SCT checked in full verified. */
  const batchVerdicts = new WeakMap<object, boolean>();
  const keys = new PublicKeyCache();
  /** Issuers of valid chains, parsed, by their base64 text (bounded; a miss only costs a parse). */
  const parsedIssuers = new LRUCache<string, ParsedCert>({ max: 2000 });
  const routes = new Map<string, Route>();
  for (const shard of deps.shards) {
    const p = shard.config.prefix;
    routes.set(`${p}/ct/v1/add-chain`, { shard, kind: 'x509', endpoint: 'add-chain', depthLimit: Math.max(1, Math.floor(maxDepth * 0.8)), share: 0.8 });
    routes.set(`${p}/ct/v1/add-pre-chain`, { shard, kind: 'precert', endpoint: 'add-pre-chain', depthLimit: maxDepth, share: 1 });
  }
  // The state is followed at run time (a shard made read-only answers 403 within seconds).
  const activeShards = () => deps.shards.filter((s) => currentState(s) === 'active');

  // prom-client resolves label values on every call; keep the labelled children instead.
  const children = new Map<string, object>();
  const child = <T extends object>(k: string, make: () => T): T => {
    let c = children.get(k) as T | undefined;
    if (!c) children.set(k, (c = make()));
    return c;
  };
  const record = (r: Route, code: number, reason: string, seconds: number, agent: string) => {
    if (!metrics) return;
    const s = r.shard.config.name;
    child(`h${s}/${r.endpoint}/${code}`, () => metrics.httpRequests.labels(s, r.endpoint, String(code))).inc();
    child(`s${s}/${r.endpoint}/${reason}`, () => metrics.submissions.labels(s, r.endpoint, reason)).inc();
    if (REFUSALS.has(code)) child(`r${s}/${r.endpoint}/${reason}`, () => metrics.refused.labels(s, r.endpoint, reason)).inc();
    const outcome = code === 200 ? 'accepted' : reason;
    child(`a${agent}/${outcome}`, () => metrics.agentRequests.labels(agent, outcome)).inc();
    child(`d${s}/${r.endpoint}`, () => metrics.httpDuration.labels(s, r.endpoint)).observe(seconds);
  };

  let closing = false;
  /** Requests being served (every route); also the pending count admission bounds. */
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function serve(r: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    let code = 200;
    let reason = 'new';
    try {
      const sct = await submit(r, req, res);
      reason = sct.duplicate ? 'duplicate' : 'new';
      if (!res.destroyed) sendJson(res, 200, sct.json);
    } catch (err) {
      if (err instanceof ClientGoneError) {
        code = 499; // nginx's "client closed request": nobody to answer
        reason = 'client_gone';
        res.destroy();
      } else {
        reason = err instanceof CtError ? err.reason : 'internal';
        // An unread or half-read body is not wanted: don't read an upload we refused.
        if (err instanceof CtError && (err.status === 413 || (!req.complete && err.status >= 429 && !smallBody(req)))) closeAfter(req, res);
        // Rejections are the callers' business and counted in metrics; only our own
        // failures (non-CtError) are logged, so a flood of bad requests cannot flood logs.
        code = res.destroyed ? 499 : sendError(res, err, err instanceof CtError ? undefined : log);
      }
    }
    record(r, code, reason, (performance.now() - t0) / 1000, agents.of(req.headers['user-agent']));
  }

  async function submit(r: Route, req: IncomingMessage, res: ServerResponse): Promise<{ json: unknown; duplicate: boolean }> {
    const cfg = r.shard.config;
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      throw new CtError(405, 'method_not_allowed', `${r.endpoint} takes POST (RFC 6962 §4.1), not ${req.method}`);
    }
    if (closing) throw unavailable(503, 'shutting_down', 'this front end is shutting down; retry', 1);
    const state = currentState(r.shard);
    if (state !== 'active') {
      const others = activeShards().map((s) => s.config.prefix).join(', ');
      throw new CtError(403, 'shard_not_active', `shard ${cfg.name} is ${state} and accepts no new entries${others ? `; submit to an active shard: ${others}` : ''}`);
    }
    // A front end far past its CPU refuses before doing anything else (asking Redis, reading
    // the body, parsing it): the check is a property read.
    const overloaded = () => unavailable(503, 'overloaded', 'the log is overloaded; retry shortly', 1);
    if (lagMs() >= 2 * shedLag || inFlight > maxPending) throw overloaded();
    // Then the client's own limit, so that a client over it hears 429 (its doing, with its
    // Retry-After) rather than the 503 that load would give everyone.
    if (rateLimit && !(await rateLimit.take(clientKey(clientAddress(req, deps.trustedProxies))))) {
      metrics?.rateLimited.labels(cfg.name, r.endpoint).inc();
      throw unavailable(429, 'rate_limited', 'too many requests from this client address; slow down', rateLimit.retryAfterSeconds ?? 1);
    }
    if (lagMs() >= shedLag) throw overloaded();
    const depth = queue.depth(cfg.name);
    metrics?.queueDepth.labels(cfg.name).set(depth);
    if (depth >= r.depthLimit) {
      throw unavailable(503, 'overloaded', `shard ${cfg.name} is overloaded (${depth} submissions waiting); retry shortly${r.kind === 'x509' ? ' (add-pre-chain is served first)' : ''}`, 1);
    }
    const delay = delays.get(cfg.name)!;
    const standing = delay.standing(performance.now());
    if (standing >= maxDelay) {
      throw unavailable(503, 'overloaded', `shard ${cfg.name} is overloaded (SCTs take ${Math.round(standing)} ms); retry shortly`, 1);
    }

    if (!admitted.tryAcquire(r.share)) throw unavailable(503, 'over_capacity', 'the log is overloaded; retry shortly', 1);
    try {
      return await admittedSubmit(r, req, standing);
    } finally {
      admitted.release();
    }
  }

  async function admittedSubmit(r: Route, req: IncomingMessage, standing: number): Promise<{ json: unknown; duplicate: boolean }> {
    const cfg = r.shard.config;
    const delay = delays.get(cfg.name)!;
    const { certs: ders, b64: sent } = parseChainBody(await readBody(req, maxBody, bodies), (b) => parsedIssuers.get(b));
    const now = clock();
    // Low priority is decided from the leaf alone, before the costly signature checks.
    if (priorityOf(r.endpoint, ders[0]!, now, oldNotBefore) === 'low') {
      const late = lagMs() >= shedLag / 2 || inFlight > maxPending / 2 || !admitted.admits(0.5) || queue.depth(cfg.name) >= r.depthLimit / 2 || standing >= maxDelay / 2;
      if (late) throw unavailable(503, 'low_priority_shed', 'the log is busy and serves fresh certificates and precertificates first; retry this one later', 5);
      if (adm.lowPriorityLimit && !(await adm.lowPriorityLimit.take('low'))) {
        throw unavailable(503, 'low_priority_limited', 'the budget for certificates issued long ago or already carrying SCTs is used up; retry later', adm.lowPriorityLimit.retryAfterSeconds ?? 5);
      }
    }
    const policy: ChainPolicy = {
      roots: r.shard.roots,
      notAfterStart: cfg.notAfterStart,
      notAfterLimit: cfg.notAfterLimit,
      now,
      rejectExpired: cfg.rejectExpired,
      requireServerAuthEku: cfg.requireServerAuth,
      maxChainLength: cfg.maxChainLength,
    };
    let v;
    try {
      v = validateChain(r.kind, ders, policy, keys);
    } catch (err) {
      throw err instanceof CtError && err.reason === 'not_after_out_of_window' ? pointToShard(err, ders[0]!, r.shard) : err;
    }
    // The chain's CA certificates, now known to lead to an accepted root, are kept parsed by
    // their base64 text: the next submission of the same CA skips decoding and parsing them.
    for (let i = 1; i < sent.length && i <= v.chain.length; i++) {
      const c = v.chain[i - 1]!;
      if (c.der === ders[i]) parsedIssuers.set(sent[i]!, c);
    }
    if (adm.issuerLimit) {
      // The CA that issued the leaf: a precertificate's entry names it (a PSC stands in for
      // it in the chain); otherwise chain[0], the leaf's validated issuer.
      const ca = v.entry.type === 'precert' ? v.entry.issuerKeyHash : createHash('sha256').update(v.chain[0]!.spki).digest();
      if (!(await adm.issuerLimit.take(Buffer.from(ca).toString('hex')))) {
        throw unavailable(429, 'issuer_quota', "this issuing CA's submission quota is used up; retry later", adm.issuerLimit.retryAfterSeconds ?? 1);
      }
    }
    const sub: Submission = { identity: v.identity, entry: v.entry, cert: v.leaf.der, chain: v.chain.map((c) => c.fingerprint) };
    const issuers: Issuer[] = v.chain.map((c) => ({ fingerprint: c.fingerprint, der: c.der }));
    // The wait of every answer that went through the pipeline (and of every deadline: a stuck
    // pipeline answers nothing else); not of refusals like queue_full, which are instant.
    const queued = performance.now();
    const waited = () => delay.observe(performance.now() - queued, performance.now());
    let s;
    try {
      s = await queue.submit(cfg.name, sub, issuers, cfg.submissionDeadlineMs);
      waited();
    } catch (err) {
      if (err instanceof CtError && err.reason === 'deadline') waited();
      throw err;
    }
    const sct: Sct = { version: 0, logId: r.shard.logId, timestamp: s.timestamp, extensions: s.extensions, signature: s.signature };
    if (!answerIsFor(r.shard.publicKey, sct, sub.entry, s)) {
      // Never hand out an SCT that is not for this submission; the retry is sequenced again
      // or finds the entry by dedup.
      log?.error('an SCT from the sequencer does not verify over its submission; answered 503', { shard: cfg.name, leaf_index: s.idx });
      throw unavailable(503, 'sct_mismatch', 'the log could not confirm this SCT; retry', 1);
    }
    return { json: sctToJson(sct), duplicate: s.duplicate };
  }

  /**
   * Whether the sequencer's answer is an SCT for this very submission
   * (docs/DESIGN.md "Every answer belongs to its submission"): the digest the sequencer had
   * signed is the digest of this submission's own entry under the answer's timestamp and
   * extensions, the signature is a well-formed P-256 ECDSA signature, and the ECDSA
   * signature of one answer of its queue message (the first one checked) verified with the
   * shard's public key; of every answer with verifyEverySct.
   */
  function answerIsFor(publicKey: Uint8Array, sct: Sct, entry: Submission['entry'], s: Sequenced): boolean {
    // A sequencer older than the digest (a rolling upgrade) sends none: its SCT is verified in full.
    if (s.signedDigest.length === 0) return sctVerifies(publicKey, sct, entry);
    if (!equal(s.signedDigest, sctSignedDigest(sct.timestamp, entry, sct.extensions))) return false;
    if (!wellFormedSignature(sct.signature)) return false;
    if (verifyEvery || !s.batch) return sctVerifies(publicKey, sct, entry);
    let verdict = batchVerdicts.get(s.batch);
    if (verdict === undefined) batchVerdicts.set(s.batch, (verdict = sctVerifies(publicKey, sct, entry)));
    return verdict;
  }

  // A NotAfter outside this shard's window often belongs in a sibling shard: say which.
  function pointToShard(err: CtError, leafDer: Uint8Array, here: ShardRuntime): CtError {
    let notAfter: number;
    try {
      notAfter = parseCertificate(leafDer).notAfter;
    } catch {
      return err;
    }
    const fit = activeShards().find((s) => s !== here && notAfter >= s.config.notAfterStart && notAfter < s.config.notAfterLimit);
    if (!fit) return err;
    return new CtError(err.status, err.reason, `${err.message}; submit it to ${fit.config.prefix}`, { cause: err });
  }

  return {
    handle(req, res) {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const r = routes.get(q < 0 ? url : url.slice(0, q));
      if (!r) return false;
      // Past capacity: refused before anything async, with the answer built once. A request
      // that is not a POST, or comes while closing, gets its own answer in serve().
      if (req.method === 'POST' && !closing) {
        const cause = !admitted.admits(r.share) ? 'over_capacity' : lagMs() >= 2 * shedLag || inFlight > maxPending ? 'overloaded' : undefined;
        if (cause) {
          if (!smallBody(req)) closeAfter(req, res);
          res.writeHead(503, SHED_HEADERS).end(SHED_BODY);
          record(r, 503, cause, 0, agents.of(req.headers['user-agent']));
          return true;
        }
      }
      inFlight++;
      serve(r, req, res)
        .catch((err: unknown) => {
          // serve() catches everything; this is the last guard against a crash.
          log?.error('ctfe: unhandled error', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.destroy();
        })
        .finally(() => {
          if (--inFlight === 0) drained?.();
        });
      return true;
    },
    close() {
      closing = true;
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const prev = drained;
        drained = () => {
          prev?.();
          resolve();
        };
      });
    },
  };
}

// After a 413 the rest of the body is not wanted: answer with Connection: close, discard
// what is already arriving, and close the socket once the answer is out instead of
// reading an unbounded upload.
function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  req.resume();
  res.once('finish', () => setTimeout(() => req.socket.destroy(), 1000).unref());
}

/** The order n of the P-256 group: r and s of a signature lie in [1, n-1]. */
const P256_N = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
const ZERO_32 = Buffer.alloc(32);

/** A DigitallySigned{sha256, ecdsa} holding a strict DER P-256 signature with r, s in [1, n-1]. */
function wellFormedSignature(ds: Uint8Array): boolean {
  try {
    const d = decodeDigitallySigned(ds);
    if (d.hashAlgorithm !== HASH_SHA256 || d.signatureAlgorithm !== SIG_ECDSA) return false;
    const raw = ecdsaDerToRaw(d.signature, 32);
    for (const v of [raw.subarray(0, 32), raw.subarray(32)]) {
      if (Buffer.compare(v, ZERO_32) === 0 || Buffer.compare(v, P256_N) >= 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** verifySct, with a malformed signature from the queue counted as not verifying (a 503, never a 500). */
function sctVerifies(publicKey: Uint8Array, sct: Sct, entry: Submission['entry']): boolean {
  try {
    return verifySct(publicKey, sct, entry);
  } catch {
    return false;
  }
}
