// shards.yaml and the environment, validated once at startup (docs/STYLE.md habit 5). A bad field
// stops the process with a message that names the field and the fix. The result is frozen.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { isPkcs11Uri, parsePkcs11Uri, type Pkcs11KeyRef } from './pkcs11-uri.js';

export type ConfiguredState = 'active' | 'read-only' | 'frozen';

export interface ShardConfig {
  /** Shard name, [a-z0-9-]+, e.g. 2027h1. */
  readonly name: string;
  /** URL path prefix, e.g. /2027h1; RFC 6962 endpoints are under <prefix>/ct/v1/. */
  readonly prefix: string;
  /** Accepted NotAfter window [start, limit), ms since epoch. */
  readonly notAfterStart: number;
  readonly notAfterLimit: number;
  /**
   * Absolute path of the PEM PKCS#8 P-256 private key (only the sequencer reads it); for a
   * key in a token (`pkcs11` set), the pkcs11: URI as written, never a file.
   */
  readonly keyFile: string;
  /** The log key is in a PKCS#11 token (key: pkcs11:...); undefined for a PEM key file. */
  readonly pkcs11?: Pkcs11KeyRef;
  /**
   * Absolute path of the fork guard's record of the newest published tree head (only the
   * sequencer writes it). It must survive the sequencer's restarts and must not live in the
   * log's database. Default <data>/witness/<name>.json.
   */
  readonly witnessFile: string;
  /** Absolute paths of PEM files or directories of PEM files with the accepted roots. */
  readonly roots: readonly string[];
  readonly poolSize: number;
  readonly poolPeriodMs: number;
  readonly getEntriesMax: number;
  readonly state: ConfiguredState;
  /** True when shards.yaml sets state (for this shard or in defaults:); a declared state is checked against the database's. */
  readonly stateDeclared?: boolean;
  /** An active shard becomes read-only this long after notAfterLimit (ms). */
  readonly readOnlyGraceMs?: number;
  /** Where the read server finds the shard's export once pruned, if not where `ctlog shard export` wrote it. */
  readonly exportDir?: string;
  /** Maximum merge delay promised, seconds. ctlog's real merge delay is zero. */
  readonly mmd: number;
  /** How long add-chain waits for the sequencer before answering 503. */
  readonly submissionDeadlineMs: number;
  readonly rejectExpired: boolean;
  readonly requireServerAuth: boolean;
  readonly maxChainLength: number;
  /** An idle shard signs a fresh STH this often. */
  readonly sthIntervalMs: number;
}

export interface LogConfig {
  /** Public base URL, e.g. https://ct.example.org (no trailing slash); shard URLs are base_url + prefix + "/". */
  readonly baseUrl: string;
  /** Free text for the log list: who runs the log. */
  readonly operator: string;
  readonly shards: readonly ShardConfig[];
  /** Per-client (IPv4 address or IPv6 /64) limit on add-chain/add-pre-chain; undefined = off. Redis-backed when Redis is configured. */
  readonly rateLimit: Rate | undefined;
  /** Per-client limit on the read endpoints, per process; undefined = off. */
  readonly readRateLimit: Rate | undefined;
  /** Proxies (addresses or CIDRs) whose X-Forwarded-For entries are believed. */
  readonly trustedProxies: readonly string[];
  readonly admission: AdmissionConfig;
  readonly http: HttpLimits;
  /**
   * Release an SCT only for a commit that a database replica acknowledged (MariaDB
   * semi-synchronous replication, AFTER_SYNC); 503 + Retry-After while none does.
   */
  readonly requireReplicaAck: boolean;
  /**
   * The CTFE verifies the ECDSA signature of every SCT before answering, not only of one per
   * queue message (docs/DESIGN.md "Every answer belongs to its submission"): one P-256
   * verify per submission more, against a signer that corrupts single signatures.
   */
  readonly verifyEverySct: boolean;
  /** Where the file was read from. */
  readonly file: string;
}

export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

/** log.admission: which submissions are served first and when the log sheds load. */
export interface AdmissionConfig {
  /** An add-chain leaf with a notBefore older than this is low priority (ms). */
  readonly oldNotBeforeMs: number;
  /** All low-priority submissions together (in Redis when configured); undefined = no budget apart. */
  readonly lowPriority: Rate | undefined;
  /** Per issuing CA (in Redis when configured); undefined = no quota. */
  readonly issuerQuota: Rate | undefined;
  /** Event-loop lag (ms) at which submissions are shed with 503 (low priority at half). */
  readonly shedLagMs: number;
  /** Submissions one front end holds at once; beyond: 503 (low priority beyond half). */
  readonly maxPending: number;
  /** Standing wait for an SCT (ms) at which submissions get 503 (low priority at half). */
  readonly maxQueueDelayMs: number;
  /** The time an admitted submission may take (ms): admitted ones are capped at answer rate x this, per process. */
  readonly maxLatencyMs: number;
}

/** log.http: limits of every serving process's HTTP server. */
export interface HttpLimits {
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

const LOG_FIELDS = ['base_url', 'operator', 'rate_limit', 'read_rate_limit', 'trusted_proxies', 'admission', 'http', 'require_replica_ack', 'verify_every_sct'];
const ADMISSION_DEFAULTS = { old_not_before_hours: 48, shed_lag_ms: 200, max_pending: 16384, max_queue_delay_ms: 1000, max_latency_ms: 250 } as const;
const HTTP_DEFAULTS = { max_connections: 10000, headers_timeout_ms: 20000, request_timeout_ms: 30000, keep_alive_timeout_ms: 65000 } as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEFAULTS = {
  roots: ['/etc/ssl/certs/ca-certificates.crt'],
  pool_size: 1000,
  pool_period_ms: 25,
  get_entries_max: 256,
  state: 'active',
  mmd: 86400,
  submission_deadline_ms: 10000,
  reject_expired: false,
  require_server_auth: false,
  max_chain_length: 10,
  sth_interval_ms: 1000,
  read_only_grace_days: 7,
} as const;

/** Paths the serving processes answer themselves (/metrics, probes): no shard may sit there. */
const OPERATOR_PATHS = ['/metrics', '/livez', '/readyz', '/healthz'];

const SHARD_FIELDS = new Set(['name', 'prefix', 'not_after_start', 'not_after_limit', 'key', 'witness', 'export_dir', ...Object.keys(DEFAULTS)]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads and validates shards.yaml. Relative key paths are resolved against dataDir (keys
 * generated on first run live there); relative root paths against the file's directory.
 */
export function loadConfig(file: string, dataDir: string): LogConfig {
  if (!existsSync(file)) {
    throw new ConfigError(
      `${file}: no such file; pass --config FILE or set CTLOG_CONFIG, or, in a container, mount your shards.yaml there (docker run -v "$PWD/shards.yaml:${file}:ro" ...; k8s/base mounts the ctlog-config ConfigMap); the repository's shards.yaml documents every field`,
    );
  }
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(doc, { file, dataDir, checkFiles: true });
}

export function parseConfig(doc: unknown, ctx: { file: string; dataDir: string; checkFiles?: boolean }): LogConfig {
  const where = ctx.file;
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: ${field}: ${msg}`);
  };
  if (!isObj(doc)) fail('(top level)', 'must be a mapping with log:, defaults: and shards:');
  const top = doc as Obj;
  for (const k of Object.keys(top)) if (!['log', 'defaults', 'shards'].includes(k)) fail(k, 'unknown top-level field; expected log, defaults or shards');
  const log = (top.log ?? {}) as Obj;
  if (!isObj(log)) fail('log', 'must be a mapping');
  for (const k of Object.keys(log)) {
    if (k === 'trust_forwarded_for') fail('log.trust_forwarded_for', 'replaced by log.trusted_proxies: list the addresses or CIDRs of your proxies, e.g. [10.0.0.0/8]; the client is then the rightmost X-Forwarded-For address not added by one of them');
    if (!LOG_FIELDS.includes(k)) fail(`log.${k}`, `unknown field; expected ${LOG_FIELDS.join(', ')}`);
  }
  const baseUrl = String(log.base_url ?? 'http://127.0.0.1:6962').replace(/\/+$/, '');
  const rate = (field: string, v: unknown): Rate | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!isObj(v)) return fail(field, 'must be a mapping like { per_second: 50, burst: 200 }');
    const rl = v as Obj;
    for (const k of Object.keys(rl)) if (!['per_second', 'burst'].includes(k)) fail(`${field}.${k}`, 'unknown field; expected per_second or burst');
    const num = (f: string, dflt?: number): number => {
      const x = rl[f] ?? dflt;
      if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) fail(`${field}.${f}`, `must be a positive number (got ${JSON.stringify(x)})`);
      return x as number;
    };
    const perSecond = num('per_second');
    const burst = num('burst', perSecond);
    // A bucket smaller than one token never lets a request through.
    if (burst < 1) fail(`${field}.burst`, `must be at least 1 (got ${burst}${rl.burst === undefined ? ', defaulted from per_second' : ''}); set burst: 1 or more`);
    return Object.freeze({ perSecond, burst });
  };
  const rateLimit = rate('log.rate_limit', log.rate_limit);
  const readRateLimit = rate('log.read_rate_limit', log.read_rate_limit);
  const proxies = log.trusted_proxies ?? [];
  if (!Array.isArray(proxies) || proxies.some((p) => typeof p !== 'string')) fail('log.trusted_proxies', 'must be a list of addresses or CIDRs, e.g. [10.0.0.0/8, "fd00::/8"]');
  for (const p of proxies as string[]) {
    const [addr, bits, extra] = p.split('/');
    const family = isIP(addr ?? '');
    const max = family === 4 ? 32 : 128;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= max))) {
      fail('log.trusted_proxies', `"${p}" is not an address or CIDR like 10.0.0.0/8 or fd00::/8`);
    }
  }
  const section = (field: string, v: unknown, defaults: Record<string, number>, extra: string[]): Obj => {
    if (v === undefined || v === null) return { ...defaults };
    if (!isObj(v)) return fail(field, 'must be a mapping');
    const known = [...Object.keys(defaults), ...extra];
    for (const k of Object.keys(v as Obj)) if (!known.includes(k)) fail(`${field}.${k}`, `unknown field; expected ${known.join(', ')}`);
    return { ...defaults, ...(v as Obj) };
  };
  const whole = (field: string, v: unknown, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
    return v as number;
  };
  const a = section('log.admission', log.admission, ADMISSION_DEFAULTS, ['low_priority', 'issuer_quota']);
  const admission: AdmissionConfig = Object.freeze({
    oldNotBeforeMs: whole('log.admission.old_not_before_hours', a.old_not_before_hours, 1, 24 * 3650) * 3_600_000,
    lowPriority: rate('log.admission.low_priority', a.low_priority),
    issuerQuota: rate('log.admission.issuer_quota', a.issuer_quota),
    shedLagMs: whole('log.admission.shed_lag_ms', a.shed_lag_ms, 10, 60_000),
    maxPending: whole('log.admission.max_pending', a.max_pending, 1, 10_000_000),
    maxQueueDelayMs: whole('log.admission.max_queue_delay_ms', a.max_queue_delay_ms, 10, 600_000),
    maxLatencyMs: whole('log.admission.max_latency_ms', a.max_latency_ms, 10, 600_000),
  });
  const h = section('log.http', log.http, HTTP_DEFAULTS, []);
  const http: HttpLimits = Object.freeze({
    maxConnections: whole('log.http.max_connections', h.max_connections, 1, 1_000_000),
    headersTimeoutMs: whole('log.http.headers_timeout_ms', h.headers_timeout_ms, 1000, 600_000),
    requestTimeoutMs: whole('log.http.request_timeout_ms', h.request_timeout_ms, 1000, 600_000),
    keepAliveTimeoutMs: whole('log.http.keep_alive_timeout_ms', h.keep_alive_timeout_ms, 1000, 600_000),
  });
  // Node cuts a request that sends its headers too slowly only if headersTimeout < requestTimeout.
  if (http.headersTimeoutMs > http.requestTimeoutMs) fail('log.http.headers_timeout_ms', `must not exceed request_timeout_ms (${http.requestTimeoutMs})`);
  const requireReplicaAck = log.require_replica_ack ?? false;
  if (typeof requireReplicaAck !== 'boolean') fail('log.require_replica_ack', 'must be true or false (true: SCTs only for commits a MariaDB replica acknowledged)');
  const verifyEverySct = log.verify_every_sct ?? false;
  if (typeof verifyEverySct !== 'boolean') fail('log.verify_every_sct', 'must be true or false (true: the CTFE verifies every SCT, one ECDSA verify per submission more)');
  try {
    const u = new URL(baseUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    fail('log.base_url', `"${baseUrl}" is not an http(s) URL; e.g. https://ct.example.org`);
  }
  const defaults = (top.defaults ?? {}) as Obj;
  if (!isObj(defaults)) fail('defaults', 'must be a mapping of shard fields');
  for (const k of Object.keys(defaults)) if (!SHARD_FIELDS.has(k)) fail(`defaults.${k}`, `unknown field; known: ${[...SHARD_FIELDS].join(', ')}`);
  if (!Array.isArray(top.shards) || top.shards.length === 0) fail('shards', 'must be a non-empty list of shards');

  const cfgDir = dirname(resolve(ctx.file));
  const shards = (top.shards as unknown[]).map((raw, i) => {
    if (!isObj(raw)) fail(`shards[${i}]`, 'must be a mapping');
    const s = { ...DEFAULTS, ...defaults, ...(raw as Obj) } as Obj;
    const name = String((raw as Obj).name ?? '');
    const at = (f: string) => `shards[${i}]${name ? ` (${name})` : ''}.${f}`;
    for (const k of Object.keys(raw as Obj)) if (!SHARD_FIELDS.has(k)) fail(at(k), `unknown field; known: ${[...SHARD_FIELDS].join(', ')}`);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) fail(at('name'), `"${name}" must be 1-63 characters of a-z, 0-9 and -`);
    const prefix = String(s.prefix ?? `/${name}`);
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) fail(at('prefix'), `"${prefix}" must be a URL path like /${name} (no trailing slash)`);
    if (OPERATOR_PATHS.includes(prefix)) fail(at('prefix'), `"${prefix}" is an operator endpoint (${OPERATOR_PATHS.join(', ')}); give the shard another prefix`);
    const date = (f: string): number => {
      const v = s[f];
      const t = v instanceof Date ? v.getTime() : typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(v) ? Date.parse(v) : NaN;
      if (!Number.isFinite(t)) fail(at(f), `must be an RFC 3339 UTC time like 2027-01-01T00:00:00Z (got ${JSON.stringify(v)})`);
      return t;
    };
    const notAfterStart = date('not_after_start');
    const notAfterLimit = date('not_after_limit');
    if (notAfterLimit <= notAfterStart) fail(at('not_after_limit'), 'must be after not_after_start');
    const int = (f: string, min: number, max: number): number => {
      const v = s[f];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(at(f), `must be an integer in [${min}, ${max}] (got ${JSON.stringify(v)})`);
      return v as number;
    };
    const bool = (f: string): boolean => {
      if (typeof s[f] !== 'boolean') fail(at(f), `must be true or false (got ${JSON.stringify(s[f])})`);
      return s[f] as boolean;
    };
    const state = String(s.state);
    if (!['active', 'read-only', 'frozen'].includes(state)) fail(at('state'), `"${state}" must be active, read-only or frozen`);
    const graceDays = s.read_only_grace_days;
    if (typeof graceDays !== 'number' || !Number.isFinite(graceDays) || graceDays < 0 || graceDays > 3650) fail(at('read_only_grace_days'), `must be a number of days in [0, 3650] (got ${JSON.stringify(graceDays)})`);
    let exportDir: string | undefined;
    if (s.export_dir !== undefined && s.export_dir !== null) {
      if (typeof s.export_dir !== 'string' || !s.export_dir) fail(at('export_dir'), 'must be a directory path');
      exportDir = isAbsolute(s.export_dir as string) ? (s.export_dir as string) : resolve(cfgDir, s.export_dir as string);
    }
    const key = String(s.key ?? `keys/${name}.pem`);
    let pkcs11: Pkcs11KeyRef | undefined;
    if (isPkcs11Uri(key)) {
      // defaults.key would give every shard one key (refused below as a duplicate anyway).
      try {
        pkcs11 = parsePkcs11Uri(key);
      } catch (err) {
        fail(at('key'), `${(err as Error).message} (RFC 7512 URI like pkcs11:token=ctlog;object=${name})`);
      }
      if (ctx.checkFiles && pkcs11!.pinSource !== undefined && !existsSync(pkcs11!.pinSource)) {
        fail(at('key'), `pin-source ${pkcs11!.pinSource} does not exist; write the token's user PIN there (mode 0600)`);
      }
    }
    const keyFile = pkcs11 ? key : isAbsolute(key) ? key : resolve(ctx.dataDir, key);
    const witness = String(s.witness ?? `witness/${name}.json`);
    if (!witness.endsWith('.json')) fail(at('witness'), `"${witness}" must be a .json file path (relative paths are under --data)`);
    const witnessFile = isAbsolute(witness) ? witness : resolve(ctx.dataDir, witness);
    const rootsRaw = Array.isArray(s.roots) ? s.roots : [s.roots];
    if (rootsRaw.length === 0 || rootsRaw.some((r) => typeof r !== 'string' || !r)) fail(at('roots'), 'must be a path or a list of paths of PEM files or directories');
    const roots = rootsRaw.map((r) => (isAbsolute(r as string) ? (r as string) : resolve(cfgDir, r as string)));
    if (ctx.checkFiles) {
      for (const r of roots) {
        if (!existsSync(r)) fail(at('roots'), `${r} does not exist; point it at a PEM bundle or a directory of PEM files`);
        statSync(r);
      }
    }
    return Object.freeze({
      name,
      prefix,
      notAfterStart,
      notAfterLimit,
      keyFile,
      ...(pkcs11 ? { pkcs11 } : {}),
      witnessFile,
      roots: Object.freeze(roots),
      poolSize: int('pool_size', 1, 10000),
      poolPeriodMs: int('pool_period_ms', 1, 10000),
      getEntriesMax: int('get_entries_max', 1, 10000),
      state: state as ConfiguredState,
      stateDeclared: (raw as Obj).state !== undefined || defaults.state !== undefined,
      readOnlyGraceMs: Math.round((graceDays as number) * 86400_000),
      exportDir,
      mmd: int('mmd', 1, 86400 * 7),
      submissionDeadlineMs: int('submission_deadline_ms', 100, 600000),
      rejectExpired: bool('reject_expired'),
      requireServerAuth: bool('require_server_auth'),
      maxChainLength: int('max_chain_length', 2, 32),
      sthIntervalMs: int('sth_interval_ms', 100, 3600000),
    });
  });
  const seen = new Map<string, string>();
  for (const s of shards) {
    // A shared key would give two shards one log id (RFC 6962 §3.2): their SCTs and STHs
    // would be indistinguishable to clients.
    for (const [what, v] of [['name', s.name], ['prefix', s.prefix], ['key', s.keyFile], ['witness', s.witnessFile]] as const) {
      const k = `${what}:${v}`;
      if (seen.has(k)) fail(`shards (${s.name})`, `duplicate ${what} "${v}"; each shard needs its own`);
      seen.set(k, s.name);
    }
  }
  // Two active shards whose NotAfter windows overlap would both accept one certificate: the
  // same certificate in two logs of one operator, and a log list whose temporal intervals
  // overlap. A shard that no longer accepts (read-only, frozen) may share a window with its
  // replacement.
  const active = shards.filter((s) => s.state === 'active').sort((a, b) => a.notAfterStart - b.notAfterStart);
  for (let i = 1; i < active.length; i++) {
    const [a, b] = [active[i - 1]!, active[i]!];
    if (b.notAfterStart < a.notAfterLimit) {
      const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
      fail(
        `shards (${a.name}, ${b.name})`,
        `active shards ${a.name} [${iso(a.notAfterStart)}, ${iso(a.notAfterLimit)}) and ${b.name} [${iso(b.notAfterStart)}, ${iso(b.notAfterLimit)}) overlap from ${iso(b.notAfterStart)} to ${iso(Math.min(a.notAfterLimit, b.notAfterLimit))}; make the windows adjacent (one's not_after_limit = the next one's not_after_start), or set state: read-only on the one that no longer accepts`,
      );
    }
  }
  return Object.freeze({
    baseUrl,
    operator: String(log.operator ?? 'ctlog operator'),
    shards: Object.freeze(shards),
    rateLimit,
    readRateLimit,
    trustedProxies: Object.freeze([...(proxies as string[])]),
    admission,
    http,
    requireReplicaAck: requireReplicaAck as boolean,
    verifyEverySct: verifyEverySct as boolean,
    file: ctx.file,
  });
}
