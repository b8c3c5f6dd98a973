// A whole write path for CTFE tests: createCtfe on a node:http server at 127.0.0.1:0, a
// real queue (in-process, or BullMQ on real Redis) and real ShardSequencers on a fresh
// MariaDB or SQLite database. Plus the independent checks the tests make: SCT signatures
// verified with @noble/curves over a signature input written out here byte by byte.
import { p256 } from '@noble/curves/nist.js';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ShardConfig } from '../../src/config/config.js';
import { createCtfe, type Ctfe, type CtfeDeps } from '../../src/ctfe/index.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { BullSubmissionConsumer, BullSubmissionQueue } from '../../src/queue/bullmq-queue.js';
import { InProcessQueue } from '../../src/queue/in-process-queue.js';
import type { SubmissionQueue } from '../../src/queue/queue.js';
import type { Sequenced, Submission } from '../../src/queue/submission.js';
import type { LogSigner } from '../../src/signing/index.js';
import { encodeCtExtensions, sctSignedDigest } from '../../src/tls/index.js';
import { loadSigner } from '../../src/config/key-file.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import { createShard } from '../../src/storage/shard-init.js';
import { RootStore } from '../../src/x509/index.js';
import { QUEUE_KEY, REDIS_URL, freshDb, freshPrefix, testWitness, writeKey, type Backend, type TestDb } from '../helpers/services.js';

export interface ShardSpec {
  name: string;
  prefix: string;
  notAfterStart: string;
  notAfterLimit: string;
  state?: ShardConfig['state'];
  deadlineMs?: number;
  rejectExpired?: boolean;
}

export interface Harness {
  url: string;
  db: TestDb;
  runtimes: Map<string, ShardRuntime>;
  queue: SubmissionQueue;
  ctfe: Ctfe;
  close(): Promise<void>;
}

export function shardConfig(s: ShardSpec, keyFile: string): ShardConfig {
  return {
    name: s.name,
    prefix: s.prefix,
    notAfterStart: Date.parse(s.notAfterStart),
    notAfterLimit: Date.parse(s.notAfterLimit),
    keyFile,
    witnessFile: keyFile.replace(/\.pem$/, '.witness.json'),
    roots: [],
    poolSize: 500,
    poolPeriodMs: 5,
    getEntriesMax: 256,
    state: s.state ?? 'active',
    mmd: 86400,
    // Generous: the test machine is shared and MariaDB commits there can stall for seconds.
    submissionDeadlineMs: s.deadlineMs ?? 30_000,
    rejectExpired: s.rejectExpired ?? false,
    requireServerAuth: false,
    maxChainLength: 10,
    sthIntervalMs: 60_000,
  };
}

/** Serves `handle` like the real entry point: a path the CTFE does not own is a 404. */
export async function listen(ctfe: Ctfe): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (!ctfe.handle(req, res)) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `no such endpoint: ${req.url}` }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startHarness(o: {
  backend: Backend;
  queue: 'in-process' | 'bullmq';
  shards: ShardSpec[];
  roots: Uint8Array[];
  ctfe?: Partial<CtfeDeps>;
}): Promise<Harness> {
  const db = await freshDb(o.backend);
  const roots = RootStore.fromCerts(o.roots);
  const clock = () => Date.now();
  const prefix = o.queue === 'bullmq' ? freshPrefix() : undefined;
  const inProcess = o.queue === 'in-process' ? new InProcessQueue({ lingerMs: 1 }) : undefined;
  const queue: SubmissionQueue = inProcess ?? new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: prefix!.prefix, lingerMs: 1, queueKey: QUEUE_KEY });
  const consumer = inProcess ?? new BullSubmissionConsumer({ redisUrl: REDIS_URL, prefix: prefix!.prefix, queueKey: QUEUE_KEY });
  const runtimes = new Map<string, ShardRuntime>();
  const sequencers: ShardSequencer[] = [];
  for (const s of o.shards) {
    const keyFile = writeKey(db.dataDir, s.name);
    const signer = loadSigner(keyFile);
    const rec = await createShard(db.storage, s.name, signer, clock());
    const config = shardConfig(s, keyFile);
    runtimes.set(s.name, { config, id: rec.id, logId: rec.logId, publicKey: rec.publicKey, roots, origin: `127.0.0.1${s.prefix}` });
    if (config.state !== 'active') continue;
    const seq = new ShardSequencer(db.storage, rec, signer, { witness: testWitness(db.dataDir, rec), poolSize: config.poolSize, poolPeriodMs: config.poolPeriodMs, sthIntervalMs: 60_000, clock, onCommit: process.env.CTFE_DEBUG ? (i) => console.log('commit', JSON.stringify(i)) : undefined /* CTFE_DEBUG=1 traces commits */ });
    await seq.start();
    sequencers.push(seq);
    await consumer.consume(s.name, (subs, iss) => seq.add(subs, iss));
  }
  // The test machine is shared and its MariaDB commits can stall for seconds: no shedding on
  // the wait for SCTs here (test/ctfe/admission.test.ts tests it).
  const ctfe = createCtfe({ queue, shards: [...runtimes.values()], clock, admission: { maxQueueDelayMs: 600_000 }, ...o.ctfe });
  const { server, url } = await listen(ctfe);
  return {
    url,
    db,
    runtimes,
    queue,
    ctfe,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      await queue.close();
      if (consumer !== queue) await consumer.close();
      for (const s of sequencers) await s.stop();
      await prefix?.delete();
      await db.drop();
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function post(url: string, body: unknown, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/** What the leaf commits to, as the tests know it independently of src/x509. */
export type KnownEntry = { type: 'x509'; cert: Uint8Array } | { type: 'precert'; issuerKeyHash: Uint8Array; tbs: Uint8Array };

const u = (n: number, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => Math.floor(n / 256 ** (bytes - 1 - i)) % 256);

/** RFC 6962 §3.4 TimestampedEntry, written out by hand. */
export function timestampedEntry(timestamp: number, e: KnownEntry, extensions: Uint8Array): Uint8Array {
  const parts: number[][] = [u(timestamp, 8)];
  if (e.type === 'x509') parts.push([0, 0 /* x509_entry */], u(e.cert.length, 3), [...e.cert]);
  else parts.push([0, 1 /* precert_entry */], [...e.issuerKeyHash], u(e.tbs.length, 3), [...e.tbs]);
  parts.push(u(extensions.length, 2), [...extensions]);
  return new Uint8Array(parts.flat());
}

/**
 * Checks an add-chain answer (RFC 6962 §4.1) against the shard: its log id, and its
 * signature with @noble/curves over §3.2's input (version v1, signature_type
 * certificate_timestamp, then the TimestampedEntry). Returns the SCT fields.
 */
export function verifySctJson(body: Record<string, unknown>, rt: ShardRuntime, e: KnownEntry): { timestamp: number; extensions: Uint8Array } {
  if (body.sct_version !== 0) throw new Error(`sct_version ${String(body.sct_version)}, want 0`);
  if (typeof body.extensions !== 'string') throw new Error('extensions missing: RFC 6962 clients need it as a string');
  if (body.id !== b64(rt.logId)) throw new Error(`id ${String(body.id)}, want ${b64(rt.logId)}`);
  if (body.id !== b64(sha256(rt.publicKey))) throw new Error('log id is not SHA-256 of the SPKI');
  const timestamp = body.timestamp as number;
  const extensions = unb64(body.extensions);
  const ds = unb64(body.signature as string);
  // DigitallySigned: hash sha256(4), signature ecdsa(3), opaque signature<0..2^16-1>.
  if (ds[0] !== 4 || ds[1] !== 3) throw new Error(`DigitallySigned algorithms ${ds[0]}/${ds[1]}, want sha256/ecdsa`);
  const sigLen = ds[2]! * 256 + ds[3]!;
  if (ds.length !== 4 + sigLen) throw new Error('DigitallySigned length mismatch');
  const input = new Uint8Array([0 /* v1 */, 0 /* certificate_timestamp */, ...timestampedEntry(timestamp, e, extensions)]);
  const point = rt.publicKey.subarray(rt.publicKey.length - 65); // P-256 SPKI ends with the uncompressed point
  if (!p256.verify(ds.subarray(4), input, point, { format: 'der', lowS: false })) throw new Error('SCT signature does not verify (noble p256)');
  return { timestamp, extensions };
}

/** RFC 6962 §2.1 leaf hash of the MerkleTreeLeaf (version v1, leaf_type timestamped_entry). */
export function leafHashOf(timestamp: number, e: KnownEntry, extensions: Uint8Array): Uint8Array {
  return sha256(new Uint8Array([0 /* leaf prefix */, 0 /* v1 */, 0 /* timestamped_entry */, ...timestampedEntry(timestamp, e, extensions)]));
}

/** The TBSCertificate TLV of a DER certificate: the first element of the outer SEQUENCE. */
export function tbsOf(der: Uint8Array): Uint8Array {
  const headerLen = (at: number): { start: number; len: number } => {
    const l = der[at + 1]!;
    if (l < 0x80) return { start: at + 2, len: l };
    const n = l - 0x80;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[at + 2 + i]!;
    return { start: at + 2 + n, len };
  };
  const outer = headerLen(0);
  const inner = headerLen(outer.start);
  return der.subarray(outer.start, inner.start + inner.len);
}

export { x509, issue, pemCerts, fixture, type Node } from '../x509/helpers.js';

/**
 * A sequencer for tests of the CTFE alone: it answers at once with an SCT it signs at
 * `timestamp` without logging anything.
 */
export function instantSequencer(signer: LogSigner, timestamp: number): (subs: Submission[]) => Promise<Sequenced[]> {
  return (subs) =>
    Promise.all(
      subs.map(async (s, i) => {
        const extensions = encodeCtExtensions({ leafIndex: i });
        const sct = await signer.signSct(timestamp, s.entry, extensions);
        return { identity: s.identity, idx: i, timestamp: sct.timestamp, extensions, signature: sct.signature, duplicate: false, signedDigest: sctSignedDigest(timestamp, s.entry, extensions) };
      }),
    );
}
