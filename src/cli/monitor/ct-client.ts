// A client for one RFC 6962 log (§4) and its static-ct-api checkpoint, for `ctlog monitor`
// and `ctlog load`: each answer is parsed strictly, and every failure is a CtClientError
// whose `kind` is a bounded label (metrics and alarms are keyed by it).
import { sctFromJson, type Sct } from '../../tls/index.js';
import { fromB64 } from '../../util/bytes.js';

export type FailureKind =
  | 'unreachable'
  | 'timeout'
  | 'http_4xx'
  | 'http_5xx'
  | 'malformed';

export class CtClientError extends Error {
  override name = 'CtClientError';
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface SignedTreeHead {
  treeSize: number;
  timestamp: number;
  rootHash: Uint8Array;
  /** The encoded DigitallySigned TreeHeadSignature. */
  signature: Uint8Array;
}

export interface LogEntryJson {
  leafInput: Uint8Array;
  extraData: Uint8Array;
}

const MAX_BODY = 64 * 1024 * 1024;

function bytesField(o: Record<string, unknown>, name: string, what: string, len?: number): Uint8Array {
  const v = o[name];
  const b = typeof v === 'string' ? fromB64(v) : undefined;
  if (b === undefined) throw new CtClientError('malformed', `${what}: "${name}" is not base64`);
  if (len !== undefined && b.byteLength !== len) throw new CtClientError('malformed', `${what}: "${name}" has ${b.byteLength} bytes, want ${len}`);
  return b;
}

function sizeField(o: Record<string, unknown>, name: string, what: string): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new CtClientError('malformed', `${what}: "${name}" is not a non-negative integer`);
  return v;
}

function hashList(v: unknown, what: string): Uint8Array[] {
  if (!Array.isArray(v)) throw new CtClientError('malformed', `${what}: not a list of hashes`);
  return v.map((h, i) => {
    const b = typeof h === 'string' ? fromB64(h) : undefined;
    if (b === undefined || b.byteLength !== 32) throw new CtClientError('malformed', `${what}[${i}] is not a base64 SHA-256 hash`);
    return b;
  });
}

export class CtClient {
  /** `url` is the log's base URL (what a log list calls `url`), with or without the trailing slash. */
  readonly url: string;
  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.url = url.endsWith('/') ? url : `${url}/`;
  }

  private async request(path: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
    let res: Response;
    try {
      res = await fetch(this.url + path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const e = err as Error;
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new CtClientError('timeout', `${path}: no answer within ${this.timeoutMs} ms`);
      throw new CtClientError('unreachable', `${path}: ${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`);
    }
    const buf = Buffer.from(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
    if (buf.byteLength > MAX_BODY) throw new CtClientError('malformed', `${path}: answer of ${buf.byteLength} bytes`);
    return { status: res.status, text: buf.toString('utf8') };
  }

  private async json(path: string, init?: RequestInit): Promise<Record<string, unknown>> {
    const { status, text } = await this.request(path, init);
    if (status !== 200) {
      throw new CtClientError(status >= 500 ? 'http_5xx' : 'http_4xx', `${path}: HTTP ${status}: ${text.slice(0, 200)}`, status);
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new CtClientError('malformed', `${path}: the answer is not JSON: ${text.slice(0, 100)}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CtClientError('malformed', `${path}: the answer is not a JSON object`);
    return v as Record<string, unknown>;
  }

  /** §4.3 get-sth (the signature is not verified here). */
  async getSth(): Promise<SignedTreeHead> {
    const o = await this.json('ct/v1/get-sth');
    const w = 'get-sth';
    return {
      treeSize: sizeField(o, 'tree_size', w),
      timestamp: sizeField(o, 'timestamp', w),
      rootHash: bytesField(o, 'sha256_root_hash', w, 32),
      signature: bytesField(o, 'tree_head_signature', w),
    };
  }

  /** §4.4 get-sth-consistency. */
  async getConsistency(first: number, second: number): Promise<Uint8Array[]> {
    const o = await this.json(`ct/v1/get-sth-consistency?first=${first}&second=${second}`);
    return hashList(o.consistency, 'get-sth-consistency consistency');
  }

  /** §4.5 get-proof-by-hash; undefined when the log answers 404 (not (yet) in the log). */
  async getProofByHash(leafHash: Uint8Array, treeSize: number): Promise<{ leafIndex: number; auditPath: Uint8Array[] } | undefined> {
    const path = `ct/v1/get-proof-by-hash?hash=${encodeURIComponent(Buffer.from(leafHash).toString('base64'))}&tree_size=${treeSize}`;
    try {
      const o = await this.json(path);
      return { leafIndex: sizeField(o, 'leaf_index', 'get-proof-by-hash'), auditPath: hashList(o.audit_path, 'get-proof-by-hash audit_path') };
    } catch (err) {
      // 404: not in the log; other logs answer 400 for a hash they do not know.
      if (err instanceof CtClientError && (err.status === 404 || err.status === 400)) return undefined;
      throw err;
    }
  }

  /** §4.6 get-entries [start, end]; the log may answer fewer (never none for a valid range). */
  async getEntries(start: number, end: number): Promise<LogEntryJson[]> {
    const o = await this.json(`ct/v1/get-entries?start=${start}&end=${end}`);
    if (!Array.isArray(o.entries) || o.entries.length === 0) throw new CtClientError('malformed', `get-entries ${start}-${end}: no entries`);
    if (o.entries.length > end - start + 1) throw new CtClientError('malformed', `get-entries ${start}-${end}: ${o.entries.length} entries, more than asked`);
    return o.entries.map((e: unknown) => {
      if (typeof e !== 'object' || e === null) throw new CtClientError('malformed', 'get-entries: an entry is not an object');
      const r = e as Record<string, unknown>;
      return { leafInput: bytesField(r, 'leaf_input', 'get-entries'), extraData: bytesField(r, 'extra_data', 'get-entries') };
    });
  }

  /** §4.1/§4.2 add-chain or add-pre-chain; the SCT is parsed, not verified. */
  async addChain(kind: 'x509' | 'precert', chain: Uint8Array[]): Promise<Sct> {
    const body = JSON.stringify({ chain: chain.map((c) => Buffer.from(c).toString('base64')) });
    const o = await this.json(kind === 'x509' ? 'ct/v1/add-chain' : 'ct/v1/add-pre-chain', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    try {
      return sctFromJson(o);
    } catch (err) {
      throw new CtClientError('malformed', `add-chain: bad SCT: ${(err as Error).message}`);
    }
  }

  /** static-ct-api `<prefix>/checkpoint`; undefined when the log serves none (a 4xx). */
  async getCheckpoint(): Promise<string | undefined> {
    const { status, text } = await this.request('checkpoint');
    // RFC 6962-only logs answer 404 (or another 4xx) for a path they do not serve.
    if (status >= 400 && status < 500) return undefined;
    if (status !== 200) throw new CtClientError(status >= 500 ? 'http_5xx' : 'http_4xx', `checkpoint: HTTP ${status}: ${text.slice(0, 200)}`, status);
    return text;
  }
}

