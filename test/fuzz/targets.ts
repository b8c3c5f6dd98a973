// Fuzz targets (issue 10, "Fuzzing"): every decoder and every HTTP input of the log, each as
// a fast-check arbitrary and a check. The pass condition is the same everywhere: no exception
// escapes but the decoder's own error types (DerError, TlsError, a CtError below 500), and no
// HTTP answer is a 500 (or another 5xx than a designed 503 + Retry-After). Inputs are
// mutations of valid encodings (bit flips, truncations, splices, length bytes set to
// extremes) as well as plain random bytes: random bytes alone rarely get past the first
// length check.
//
// test/fuzz/fuzz.test.ts runs a seeded, bounded number of inputs in the suite;
// `npm run bench -- fuzz` runs the same targets with >= 10^6 inputs in all.
import fc from 'fast-check';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { clientAddress, clientKey, TrustedProxies } from '../../src/http/client-address.js';
import { parseChainBody } from '../../src/ctfe/parse-chain.js';
import { parseTilePath } from '../../src/merkle/index.js';
import { intParam, leafHashParam, queryOf } from '../../src/read/query-params.js';
import {
  TlsError,
  decodeCtExtensions,
  decodeDataTile,
  decodeDigitallySigned,
  decodeMerkleTreeLeaf,
  decodePrecertChainEntry,
  decodeSct,
  decodeX509ChainEntry,
  encodeCtExtensions,
  encodeMerkleTreeLeaf,
  encodeSct,
  encodeX509ChainEntry,
  encodePrecertChainEntry,
  encodeTileLeaf,
  parseRfc6962NoteSignature,
  parseSignedCheckpoint,
  sctFromJson,
} from '../../src/tls/index.js';
import { CtError } from '../../src/util/errors.js';
import { DerError, PublicKeyCache, RootStore, decodeOid, parseCertificate, readTlv, tbsLayout, validateChain } from '../../src/x509/index.js';

/** A fuzz target: inputs and the check run on each. `check` throws only on a real failure. */
export interface Target<T = unknown> {
  name: string;
  arb: fc.Arbitrary<T>;
  check(input: T): void | Promise<void>;
  /** The check returns a promise (HTTP targets). */
  async?: boolean;
}

/** Errors a decoder may throw for bad input; anything else escaping is a bug. */
export function expected(err: unknown): boolean {
  return err instanceof DerError || err instanceof TlsError || (err instanceof CtError && err.status < 500);
}

/** Runs f; rethrows (as a failure) any error that is not an expected decoding error. */
function decodes(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!expected(err)) throw new Error(`unexpected ${(err as Error)?.name}: ${(err as Error)?.message}`, { cause: err });
  }
}

/** Mutations of `seed`: flips, truncations, insertions, overwrites with extreme bytes. */
export function mutated(seeds: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const one = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.nat(7), fc.constantFrom('flip', 'cut', 'set0', 'setff', 'set80', 'insert', 'dup')), { minLength: 1, maxLength: 4 }));
  return fc.oneof(
    { weight: 4, arbitrary: one.map(([seed, edits]) => applyEdits(seed, edits)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  );
}

function applyEdits(seed: Uint8Array, edits: Array<[number, number, string]>): Uint8Array {
  let b = new Uint8Array(seed);
  for (const [pos, bit, op] of edits) {
    if (b.length === 0) break;
    const i = pos % b.length;
    switch (op) {
      case 'flip': b[i]! ^= 1 << bit; break;
      case 'cut': b = b.subarray(0, i); break;
      case 'set0': b[i] = 0; break;
      case 'setff': b[i] = 0xff; break;
      case 'set80': b[i] = 0x80 + bit; break;
      case 'insert': b = new Uint8Array([...b.subarray(0, i), bit * 37, ...b.subarray(i)]); break;
      case 'dup': b = new Uint8Array([...b, ...b.subarray(i, i + 16)]); break;
    }
  }
  return b;
}

/** Walks every TLV of a DER value recursively, as far as it parses. */
function derWalk(buf: Uint8Array, start = 0, end = buf.length, depth = 0): void {
  let at = start;
  while (at < end && depth < 64) {
    const t = readTlv(buf, at, end);
    if (t.tag & 0x20) derWalk(buf, t.valueStart, t.end, depth + 1);
    else if (t.tag === 0x06) decodeOid(buf.subarray(t.valueStart, t.end));
    at = t.end;
  }
}

/** What the targets need: a few real certificates and chains (the caller's fixtures). */
export interface Corpus {
  /** DER certificates, leaves and CAs. */
  certs: Uint8Array[];
  /** Chains (leaf first) accepted under `roots`, with their endpoint. */
  chains: Array<{ kind: 'x509' | 'precert'; ders: Uint8Array[] }>;
  roots: Uint8Array[];
  /** ms since the epoch at which the chains are valid. */
  now: number;
}

const sampleTileLeaf = (cert: Uint8Array) =>
  encodeTileLeaf({ entry: { timestamp: 1_700_000_000_000, entry: { type: 'x509', certificate: cert }, extensions: new Uint8Array(0) }, chainFingerprints: [new Uint8Array(32).fill(1)] });

/** The decoder targets: pure functions, microseconds an input. */
export function decoderTargets(c: Corpus): Target[] {
  const roots = RootStore.fromCerts(c.roots);
  const keys = new PublicKeyCache();
  const te = { timestamp: 1_700_000_000_000, entry: { type: 'x509' as const, certificate: c.certs[0]! }, extensions: encodeCtExtensions({ leafIndex: 5 }) };
  const sct = encodeSct({ version: 0, logId: new Uint8Array(32).fill(9), timestamp: 1_700_000_000_000, extensions: new Uint8Array(0), signature: new Uint8Array([4, 3, 0, 2, 0x30, 0]) });
  const checkpoint = 'example.org/log\n10\n' + Buffer.alloc(32, 3).toString('base64') + '\n\n— example.org/log ' + Buffer.alloc(48, 5).toString('base64') + '\n';
  const tls: Array<[string, Uint8Array[], (b: Uint8Array) => unknown]> = [
    ['MerkleTreeLeaf', [encodeMerkleTreeLeaf(te), encodeMerkleTreeLeaf({ ...te, entry: { type: 'precert', issuerKeyHash: new Uint8Array(32), tbsCertificate: c.certs[0]!.subarray(4, 200) } })], decodeMerkleTreeLeaf],
    ['SignedCertificateTimestamp', [sct], decodeSct],
    ['CtExtensions', [encodeCtExtensions({ leafIndex: 5 }), encodeCtExtensions({ leafIndex: 2 ** 40 - 1 })], decodeCtExtensions],
    ['DigitallySigned', [new Uint8Array([4, 3, 0, 2, 0x30, 0])], decodeDigitallySigned],
    ['X509ChainEntry', [encodeX509ChainEntry(c.certs.slice(0, 2))], decodeX509ChainEntry],
    ['PrecertChainEntry', [encodePrecertChainEntry(c.certs[0]!, c.certs.slice(1, 3))], decodePrecertChainEntry],
    ['data tile', [sampleTileLeaf(c.certs[0]!), new Uint8Array([...sampleTileLeaf(c.certs[0]!), ...sampleTileLeaf(c.certs[1]!)])], decodeDataTile],
    ['RFC 6962 note signature', [new Uint8Array(48).fill(7)], parseRfc6962NoteSignature],
  ];
  const chainSeeds = c.chains.map((ch) => ch.ders);
  return [
    { name: 'DER walk', arb: mutated(c.certs), check: (b: Uint8Array) => decodes(() => derWalk(b)) },
    { name: 'X.509 certificate parse', arb: mutated(c.certs), check: (b: Uint8Array) => decodes(() => (parseCertificate(b), tbsLayout(b.subarray(4)))) },
    {
      name: 'chain validation (mutated chains)',
      arb: fc.tuple(fc.constantFrom(...c.chains.keys()), fc.nat(), mutated(c.certs)).map(([i, at, m]) => {
        const ders = [...chainSeeds[i]!];
        ders[at % ders.length] = m;
        return { kind: c.chains[i]!.kind, ders };
      }),
      check: ({ kind, ders }: { kind: 'x509' | 'precert'; ders: Uint8Array[] }) =>
        decodes(() => validateChain(kind, ders, { roots, notAfterStart: 0, notAfterLimit: 8.64e15, now: c.now }, keys)),
    },
    ...tls.map(([name, seeds, f]): Target => ({ name: `TLS ${name}`, arb: mutated(seeds), check: (b: Uint8Array) => decodes(() => f(b)) })),
    {
      name: 'checkpoint text',
      arb: fc.oneof(mutated([Buffer.from(checkpoint)]).map((b) => Buffer.from(b).toString('utf8')), fc.string({ unit: 'binary', maxLength: 300 })),
      check: (s: string) => decodes(() => parseSignedCheckpoint(s)),
    },
    { name: 'SCT JSON', arb: fc.oneof(fc.jsonValue(), fc.record({ sct_version: fc.constantFrom(0, 1), id: fc.base64String(), timestamp: fc.oneof(fc.integer(), fc.double()), extensions: fc.base64String(), signature: fc.base64String() })), check: (j: unknown) => decodes(() => sctFromJson(j)) },
    { name: 'add-chain body', arb: chainBodies(c), check: (b: Buffer) => decodes(() => parseChainBody(b)) },
    { name: 'query parameters', arb: queries(), check: (url: string) => decodes(() => { const q = queryOf(url); intParam(q, 'start'); leafHashParam(q); }) },
    { name: 'tile paths', arb: tilePaths(), check: (p: string) => decodes(() => parseTilePath(p)) },
    {
      name: 'client address (X-Forwarded-For)',
      arb: fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()), fc.oneof(fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), { maxLength: 40 }).map((a) => a.join(', ')), fc.string({ unit: 'binary', maxLength: 200 }))),
      check: ([peer, xff]: [string, string]) => {
        const req = { socket: { remoteAddress: peer }, headers: { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
        const ip = clientAddress(req, PROXIES);
        const key = clientKey(ip);
        if (typeof key !== 'string' || key.length > 64) throw new Error(`client key ${JSON.stringify(key)} of ${JSON.stringify(ip)}`);
      },
    },
  ];
}

const PROXIES = new TrustedProxies(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

/** add-chain bodies: JSON shapes, base64 of mutated DER, and raw bytes. */
export function chainBodies(c: Corpus): fc.Arbitrary<Buffer> {
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
  const valid = c.chains.map((ch) => ch.ders.map(b64));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...valid).map((v) => Buffer.from(JSON.stringify({ chain: v }))) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...valid), fc.nat(), mutated(c.certs)).map(([v, i, m]) => {
      const chain = [...v];
      chain[i % chain.length] = b64(m);
      return Buffer.from(JSON.stringify({ chain }));
    }) },
    fc.jsonValue({ maxDepth: 3 }).map((j) => Buffer.from(JSON.stringify(j) ?? 'null')),
    fc.record({ chain: fc.array(fc.oneof(fc.base64String({ maxLength: 200 }), fc.string(), fc.integer(), fc.constant(null)), { maxLength: 70 }) }).map((o) => Buffer.from(JSON.stringify(o))),
    fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u)),
    fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([v, n]) => Buffer.from(JSON.stringify({ chain: v }).replace(/"/g, (q) => ((n = (n * 1103515245 + 12345) % 2147483648) % 2 ? q : "'")))),
  );
}

/** Query strings of the RFC 6962 GET endpoints: mostly the right names with numbers near the edges, plus junk. */
export function queries(names?: string[]): fc.Arbitrary<string> {
  const num = fc.oneof(
    { weight: 6, arbitrary: fc.nat(400).map(String) },
    { weight: 2, arbitrary: fc.constantFrom('-1', '0', '01', '1e3', '9007199254740991', '9007199254740993', '99999999999999999999', ' 1', '0x10', '', '%30', '1.5', '+1') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const hash = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((u) => Buffer.from(u).toString('base64')), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((u) => Buffer.from(u).toString('base64').replace('+', ' ')), fc.string({ maxLength: 50 }));
  const named = (names: string[]) =>
    fc.tuple(...names.map((n) => fc.tuple(fc.constant(n), n === 'hash' ? hash : num, fc.nat(9)))).map((ps) => ps.filter(([, , d]) => d > 0).map(([k, v]) => `${k}=${v}`));
  const sets = fc.oneof(
    ...(names ? [{ weight: 6, arbitrary: named(names) }] : []),
    named(['start', 'end']),
    named(['first', 'second']),
    named(['hash', 'tree_size']),
    named(['leaf_index', 'tree_size']),
    fc.array(fc.tuple(fc.constantFrom('start', 'end', 'first', 'second', 'hash', 'tree_size', 'leaf_index', 'x', ''), fc.oneof(num, hash)).map(([k, v]) => `${k}=${v}`), { maxLength: 6 }),
    fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
  );
  return fc.tuple(sets, fc.constantFrom('&', '&', ';', '&&')).map(([ps, sep]) => `?${ps.join(sep)}`);
}

/** static-ct-api tile paths (without the shard prefix), valid and broken. */
export function tilePaths(): fc.Arbitrary<string> {
  const index = (n: number) => {
    const s = String(n).padStart(Math.ceil(String(n).length / 3) * 3, '0');
    return s.match(/.{3}/g)!.map((g, i, a) => (i < a.length - 1 ? `x${g}` : g)).join('/');
  };
  const idx = fc.oneof(
    { weight: 4, arbitrary: fc.nat(6).map(index) },
    { weight: 2, arbitrary: fc.nat({ max: 10 ** 12 }).map(index) },
    { weight: 1, arbitrary: fc.constantFrom('000', 'x000/000', '1', '0001', 'x001', 'x000/x000/001', '-01', '00a', '') },
  );
  const level = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('0', '1', '2', 'data') }, { weight: 1, arbitrary: fc.nat(70).map(String) }, { weight: 1, arbitrary: fc.constantFrom('00', '-1', 'DATA', '') });
  const width = fc.oneof(fc.constant(''), fc.constant(''), fc.nat(300).map((w) => `.p/${w}`), fc.constantFrom('.p/', '.p/00', '.p/1', '.p/255', '.p/256', '.p'));
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(level, idx, width).map(([l, i, w]) => `tile/${l}/${i}${w}`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((s) => `tile/${s}`) },
  );
}

/**
 * Sends one request through `handle` in-process (no socket): a real IncomingMessage and
 * ServerResponse, so the handler runs exactly as under node:http. Resolves with the status.
 */
export function inject(
  handle: (req: IncomingMessage, res: ServerResponse) => boolean,
  r: { method: string; url: string; headers?: Record<string, string>; body?: Buffer },
): Promise<number | undefined> {
  const req = new IncomingMessage(new Socket());
  req.method = r.method;
  req.url = r.url;
  req.headers = { ...(r.headers ?? {}), ...(r.body ? { 'content-length': String(r.body.length) } : {}) };
  if (r.body) req.push(r.body);
  req.push(null);
  req.complete = true;
  const res = new ServerResponse(req);
  return new Promise((resolve) => {
    const end = res.end.bind(res);
    res.end = ((...a: Parameters<typeof res.end>) => {
      resolve(res.statusCode);
      return end(...a);
    }) as typeof res.end;
    res.destroy = (() => (resolve(undefined), res)) as typeof res.destroy;
    if (!handle(req, res)) resolve(404);
  });
}

/**
 * A failed HTTP input: a 500 or any 5xx but 503. A 503 + Retry-After is a designed answer
 * (e.g. a tree size beyond this server's copy of the tree: it may be behind the log).
 */
const bad = (status: number | undefined) => status !== undefined && status >= 500 && status !== 503;

/** The HTTP targets of the CTFE: add-chain and add-pre-chain bodies, methods, paths. */
export function ctfeTarget(handle: (req: IncomingMessage, res: ServerResponse) => boolean, prefix: string, c: Corpus): Target {
  return {
    name: 'HTTP add-chain / add-pre-chain',
    async: true,
    arb: fc.tuple(fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'), fc.constantFrom('add-chain', 'add-pre-chain'), chainBodies(c), fc.string({ maxLength: 10 })),
    async check([method, ep, body, q]: [string, string, Buffer, string]) {
      const status = await inject(handle, { method, url: `${prefix}/ct/v1/${ep}${q ? `?${q}` : ''}`, body });
      if (bad(status)) throw new Error(`${method} ${ep}: ${status}`);
    },
  };
}

const PARAMS: Record<string, string[]> = {
  'get-entries': ['start', 'end'],
  'get-proof-by-hash': ['hash', 'tree_size'],
  'get-sth-consistency': ['first', 'second'],
  'get-entry-and-proof': ['leaf_index', 'tree_size'],
  'get-sth': [],
  'get-roots': [],
  nope: ['x'],
};

/** The HTTP targets of the read server: every GET endpoint with fuzzed parameters and paths. */
export function readTarget(handle: (req: IncomingMessage, res: ServerResponse) => boolean, prefix: string): Target {
  const path = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...Object.keys(PARAMS))
        .chain((e) => queries(PARAMS[e]).map((q) => `/ct/v1/${e}${q}`)),
    },
    { weight: 2, arbitrary: tilePaths().map((p) => `/${p}`) },
    fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength: 70 }), fc.string({ maxLength: 70 })).map((f) => `/issuer/${encodeURIComponent(f)}`),
    fc.string({ maxLength: 40 }).map((s) => `/${s}`),
  );
  return {
    name: 'HTTP read endpoints',
    async: true,
    arb: fc.tuple(fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST'), path),
    async check([method, p]: [string, string]) {
      const status = await inject(handle, { method, url: `${prefix}${p}` });
      if (bad(status)) throw new Error(`${method} ${p}: ${status}`);
    },
  };
}

/** Runs `runs` inputs of a target with a fixed seed; throws fast-check's report on failure. */
export async function runTarget(t: Target, runs: number, seed: number): Promise<void> {
  const opts = { numRuns: runs, seed, endOnFailure: true };
  if (t.async) await fc.assert(fc.asyncProperty(t.arb, async (x) => void (await t.check(x))), opts);
  else fc.assert(fc.property(t.arb, (x) => void t.check(x)), opts);
}
