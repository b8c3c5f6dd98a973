// The read server: every GET endpoint of every shard, as a plain node:http handler. Not
// express: its router costs 200-400 µs a request (docs/PERFORMANCE.md), more than a proof from
// cached tiles. Routing is a prefix match and a switch.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddress, clientKey, type TrustedProxies } from '../http/client-address.js';
import { sendError, sendJson } from '../http/respond.js';
import { selfMetadata } from '../http/log-metadata.js';
import { currentState, type ShardRuntime } from '../http/shard-runtime.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { LogStorage } from '../storage/log-storage.js';
import { b64 } from '../util/bytes.js';
import { CtError, notFound, unavailable } from '../util/errors.js';
import { NO_CACHE, SHORT_CACHE } from './cache-control.js';
import { EntryPages } from './entry-pages.js';
import type { ExportStore } from './export-store.js';
import { IssuerCache } from './issuer-cache.js';
import { queryOf } from './query-params.js';
import { getEntries, getEntryAndProof, getProofByHash, getRoots, getSth, getSthConsistency, type Rfc6962Context } from './rfc6962-endpoints.js';
import { ShardReader } from './shard-reader.js';
import { checkpoint, issuer, tile } from './static-ct-endpoints.js';
import type { LeafRebuilders } from '../x509/index.js';

/** Memory bounds of the read path's caches; everything cached is immutable. */
export interface ReadCacheOptions {
  /** Hash tiles per shard (proofs, tile endpoint). @defaultValue 64 MiB */
  tileBytes?: number;
  /** Serialized full get-entries pages, all shards. @defaultValue 256 MiB */
  pageBytes?: number;
  /** Full data tiles, all shards. @defaultValue 64 MiB */
  dataTileBytes?: number;
  /** Issuer certificates. @defaultValue 16 MiB */
  issuerBytes?: number;
  /** Range reads (get-entries, data tiles) running at once; the rest wait. @defaultValue 8 */
  maxConcurrentBuilds?: number;
  /** Range reads waiting for a turn; beyond, 503 + Retry-After. @defaultValue 256 */
  maxWaitingBuilds?: number;
}

/** The per-client limit the read server asks (the CTFE's token buckets fit it). */
export interface ReadRateLimiter {
  take(key: string): boolean | Promise<boolean>;
  readonly retryAfterSeconds?: number;
}

export interface ReadDeps {
  storage: LogStorage;
  shards: ShardRuntime[];
  metrics?: Metrics;
  log?: Logger;
  /** ms since the epoch; used to age the cached tree head. */
  clock: () => number;
  /**
   * How long proofs and get-entries reuse a read of the tree head (ms). get-sth and
   * checkpoint always read it; a request for a size beyond the cached head re-reads it.
   * @defaultValue 1000
   */
  headTtlMs?: number;
  cache?: ReadCacheOptions;
  /**
   * Per-client limit on every read endpoint (key: IPv4 address or IPv6 /64); 429 past it.
   * Keep it generous: monitors must be able to read faster than the log grows.
   */
  rateLimit?: ReadRateLimiter;
  /** Proxies whose X-Forwarded-For entries are believed (see src/http/client-address.ts). */
  trustedProxies?: TrustedProxies;
  /** The leaf rebuild code (src/x509/leaf-rebuild.ts); tests inject other versions. @defaultValue LEAF_REBUILDERS */
  rebuilders?: LeafRebuilders;
  /** For `<prefix>/log.v3.json`: the public base URL and the operator. */
  meta?: { baseUrl: string; operator: string };
  /**
   * The worker group this reader serves in (src/bin/workers.ts): before it serves a larger
   * tree head than before, it announces the size, and resolves once every other worker has
   * raised its floor (raiseFloor): a client whose connections land on different workers
   * never sees the tree shrink.
   */
  announce?: (shard: string, treeSize: number) => Promise<void>;
}

export interface Reader {
  /**
   * Serves the request if its path is a read endpoint of a shard (or lies under a shard's
   * prefix: unknown paths there get a JSON 404) and returns true; the answer is written
   * asynchronously and errors go through sendError, never thrown. Returns false, writing
   * nothing, for paths under no shard prefix and for the CTFE's add-chain/add-pre-chain.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Serves the shard from a verified export from now on (it was pruned: its rows are gone).
   * Requests already running finish against the database.
   */
  serveFromExport(shardName: string, store: ExportStore): void;
  /** Where each shard is served from now. */
  sources(): Record<string, 'database' | 'export'>;
  /** Drops the caches; later requests get 503. Idempotent. */
  close(): void;
  /** Another worker of the group serves a tree of this size: serve none smaller from now on. */
  raiseFloor(shard: string, treeSize: number): void;
  /**
   * Shards whose database is behind a tree head this server already served (a replica that
   * fell behind, or was swapped for one further behind): their reads answer 503 meanwhile,
   * and /readyz reports the server not ready so a load balancer routes around it.
   */
  behind(): Array<{ shard: string; treeSize: number }>;
  /**
   * behind(), after a fresh look at the database of every shard that was behind: a server
   * taken out of rotation gets no requests, so the readiness probe is what brings it back.
   */
  recheckBehind(): Promise<Array<{ shard: string; treeSize: number }>>;
}

const MiB = 1024 * 1024;
const ALLOW = 'GET, HEAD';
/** Paths under a shard prefix that belong to the CTFE (RFC 6962 §4.1, §4.2). */
const WRITE_PATHS = new Set(['/ct/v1/add-chain', '/ct/v1/add-pre-chain']);

type Endpoint =
  | 'get-sth' | 'get-sth-consistency' | 'get-proof-by-hash' | 'get-entries' | 'get-roots' | 'get-entry-and-proof'
  | 'checkpoint' | 'tile' | 'tile-data' | 'issuer' | 'log.v3.json' | 'unknown';

function endpointOf(rest: string): Endpoint {
  if (rest.startsWith('/ct/v1/')) {
    switch (rest.slice(7)) {
      case 'get-sth': return 'get-sth';
      case 'get-sth-consistency': return 'get-sth-consistency';
      case 'get-proof-by-hash': return 'get-proof-by-hash';
      case 'get-entries': return 'get-entries';
      case 'get-roots': return 'get-roots';
      case 'get-entry-and-proof': return 'get-entry-and-proof';
      default: return 'unknown';
    }
  }
  if (rest === '/checkpoint') return 'checkpoint';
  if (rest === '/log.v3.json') return 'log.v3.json';
  if (rest.startsWith('/tile/data/')) return 'tile-data';
  if (rest.startsWith('/tile/')) return 'tile';
  if (rest.startsWith('/issuer/')) return 'issuer';
  return 'unknown';
}

interface Mounted {
  prefix: string;
  reader: ShardReader;
  rootsJson: Buffer;
  /** Entry pages and issuers: shared by the database-backed shards, the export's own for a pruned one. */
  ctx: Rfc6962Context;
  source: 'database' | 'export';
}

export function createReader(deps: ReadDeps): Reader {
  const c = deps.cache ?? {};
  const issuers = new IssuerCache(deps.storage, c.issuerBytes ?? 16 * MiB);
  const pages = new EntryPages(issuers, {
    pageCacheBytes: c.pageBytes ?? 256 * MiB,
    dataTileCacheBytes: c.dataTileBytes ?? 64 * MiB,
    maxConcurrentBuilds: c.maxConcurrentBuilds ?? 8,
    maxWaitingBuilds: c.maxWaitingBuilds ?? 256,
    rebuilders: deps.rebuilders,
  });
  const ctx: Rfc6962Context = { pages, issuers, rebuilders: deps.rebuilders };
  const readerOpts = { headTtlMs: deps.headTtlMs ?? 1000, tileCacheBytes: c.tileBytes ?? 64 * MiB, clock: deps.clock };
  // Longest prefix first, so /logs/2027h1 wins over /logs.
  const mounted: Mounted[] = deps.shards
    .map((rt) => ({
      prefix: rt.config.prefix,
      reader: new ShardReader(rt, deps.storage, { ...readerOpts, announce: deps.announce && ((size: number) => deps.announce!(rt.config.name, size)) }),
      rootsJson: Buffer.from(`{"certificates":[${rt.roots.certs.map((r) => `"${b64(r.der)}"`).join(',')}]}`),
      ctx,
      source: 'database' as const,
    }) as Mounted)
    .sort((a, b) => b.prefix.length - a.prefix.length);
  let closed = false;

  async function serve(m: Mounted, endpoint: Endpoint, rest: string, url: string, res: ServerResponse): Promise<void> {
    const shard = m.reader;
    const { ctx, ctx: { pages, issuers } } = m;
    switch (endpoint) {
      case 'get-sth': return getSth(shard, res);
      case 'get-sth-consistency': return getSthConsistency(shard, queryOf(url), res);
      case 'get-proof-by-hash': return getProofByHash(shard, queryOf(url), res);
      case 'get-entries': return getEntries(shard, queryOf(url), res, ctx);
      case 'get-roots': return getRoots(m.rootsJson, res);
      case 'get-entry-and-proof': return getEntryAndProof(shard, queryOf(url), res, ctx);
      case 'checkpoint': return checkpoint(shard, res);
      case 'tile':
      case 'tile-data': return tile(shard, rest.slice(1), res, pages);
      case 'issuer': return issuer(rest.slice('/issuer/'.length), res, issuers);
      case 'log.v3.json': return logJson(m, res);
      case 'unknown': throw notFound('unknown_path', `no such endpoint: ${rest.slice(0, 100)} (under ${m.prefix})`);
    }
  }

  async function logJson(m: Mounted, res: ServerResponse): Promise<void> {
    const rt = m.reader.rt;
    const head = await m.reader.head(true);
    const meta = deps.meta ?? { baseUrl: '', operator: 'ctlog operator' };
    const body = selfMetadata(
      { config: rt.config, baseUrl: meta.baseUrl, logId: rt.logId, publicKey: rt.publicKey, state: currentState(rt), head, createdAt: rt.createdAt, stateChangedAt: rt.live?.stateChangedAt },
      { name: meta.operator },
    );
    sendJson(res, 200, body, { 'Cache-Control': SHORT_CACHE });
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const m = mounted.find((x) => path === x.prefix || path.startsWith(x.prefix + '/'));
    if (!m) return false;
    const rest = path.slice(m.prefix.length);
    if (WRITE_PATHS.has(rest)) return false;
    const endpoint = endpointOf(rest);
    const started = performance.now();
    const finish = (code: number) => {
      if (!deps.metrics) return;
      const labels = { shard: m.reader.rt.config.name, endpoint };
      deps.metrics.httpRequests.inc({ ...labels, code: String(code) });
      if (code === 429 || code === 503) deps.metrics.refused.inc({ ...labels, reason: refusal });
      deps.metrics.httpDuration.observe(labels, (performance.now() - started) / 1000);
    };
    let refusal = 'unavailable';
    const fail = (err: unknown) => {
      if (err instanceof CtError) refusal = err.reason;
      if (!res.headersSent) res.setHeader('Cache-Control', NO_CACHE);
      finish(sendError(res, err, deps.log));
    };
    try {
      if (closed) throw new CtError(503, 'shutting_down', 'the read server is shutting down', { retryAfter: 1 });
      if (endpoint !== 'unknown' && req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', ALLOW);
        throw new CtError(405, 'method_not_allowed', `${endpoint} takes ${ALLOW}, not ${String(req.method).slice(0, 20)}`);
      }
      const rl = deps.rateLimit;
      const allowed = rl ? rl.take(clientKey(clientAddress(req, deps.trustedProxies))) : true;
      const refuse = () => unavailable(429, 'read_rate_limited', 'too many reads from this client address; slow down (static-ct-api tiles are cacheable: read them through a CDN)', rl?.retryAfterSeconds ?? 1);
      if (allowed === true) serve(m, endpoint, rest, url, res).then(() => finish(res.statusCode), fail);
      else if (allowed === false) throw refuse();
      else allowed.then((ok) => (ok ? serve(m, endpoint, rest, url, res) : Promise.reject(refuse()))).then(() => finish(res.statusCode), fail);
    } catch (err) {
      fail(err);
    }
    return true;
  }

  const behind = () => mounted.flatMap((m) => (m.reader.behind === undefined ? [] : [{ shard: m.reader.rt.config.name, treeSize: m.reader.behind }]));
  return {
    handle,
    raiseFloor(shardName, treeSize) {
      mounted.find((x) => x.reader.rt.config.name === shardName)?.reader.raiseFloor(treeSize);
    },
    serveFromExport(shardName, store) {
      const m = mounted.find((x) => x.reader.rt.config.name === shardName);
      if (!m) throw new Error(`no shard named ${shardName} is served here`);
      if (m.source === 'export') return;
      const exportIssuers = new IssuerCache(store, c.issuerBytes ?? 16 * MiB);
      const exportPages = new EntryPages(exportIssuers, {
        pageCacheBytes: Math.floor((c.pageBytes ?? 256 * MiB) / 4),
        dataTileCacheBytes: Math.floor((c.dataTileBytes ?? 64 * MiB) / 4),
        maxConcurrentBuilds: c.maxConcurrentBuilds ?? 8,
        maxWaitingBuilds: c.maxWaitingBuilds ?? 256,
      });
      m.reader.clear();
      m.reader = new ShardReader(m.reader.rt, store, readerOpts);
      m.ctx = { pages: exportPages, issuers: exportIssuers, rebuilders: deps.rebuilders };
      m.source = 'export';
    },
    sources() {
      return Object.fromEntries(mounted.map((m) => [m.reader.rt.config.name, m.source]));
    },
    behind,
    async recheckBehind() {
      await Promise.allSettled(mounted.filter((m) => m.reader.behind !== undefined).map((m) => m.reader.head(true)));
      return behind();
    },
    close() {
      if (closed) return;
      closed = true;
      for (const m of mounted) {
        m.reader.clear();
        if (m.ctx !== ctx) m.ctx.pages.clear();
      }
      pages.clear();
      issuers.clear();
    },
  };
}
