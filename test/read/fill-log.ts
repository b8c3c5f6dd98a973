// A test log for the read-server tests: a shard filled through the real sequencer with
// synthetic x509 entries and real certificates and precertificates (ct-cpp test PKI,
// validated by src/x509 validateChain), in several batches so several STHs exist.
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ShardConfig } from '../../src/config/config.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import type { Issuer, Submission } from '../../src/queue/submission.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import { HeadWitness } from '../../src/storage/head-witness.js';
import { createSigner, generateLogKey } from '../../src/signing/index.js';
import type { LogStorage, ShardRecord } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import { PublicKeyCache, RootStore, validateChain } from '../../src/x509/index.js';
import { syntheticSubmission } from '../helpers/synthetic.js';

export const FIXTURES = join(import.meta.dirname, '../fixtures/read');

export function pemDer(file: string): Uint8Array {
  const text = readFileSync(join(FIXTURES, file), 'utf8');
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new Error(`${file}: no certificate`);
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

export interface Vector {
  name: string;
  entry_type: 'x509_entry' | 'precert_entry';
  chain: string[];
  certificate?: string;
  precertificate?: string;
  issuer_key_hash_b64?: string;
  tbs_certificate_b64?: string;
  merkle_tree_leaf_b64: string;
}

/** The ct-cpp vectors, one per distinct certificate (the RSA-log duplicates dropped). */
export function vectors(): Vector[] {
  const all = JSON.parse(readFileSync(join(FIXTURES, 'ctcpp-sct-vectors.json'), 'utf8')).vectors as Vector[];
  return all.filter((v) => !v.name.includes('RSA'));
}

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

/** A real submission: the vector's chain validated against the ct-cpp root. */
export function realSubmission(v: Vector, roots: RootStore): { sub: Submission; issuers: Issuer[] } {
  const kind = v.entry_type === 'x509_entry' ? 'x509' : 'precert';
  const files = kind === 'x509' ? [v.certificate!, ...v.chain] : v.chain;
  const ders = files.map((f) => pemDer(`ctcpp-${f}`));
  const ok = validateChain(kind, ders, { roots, notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), now: Date.parse('2013-06-01T00:00:00Z') }, new PublicKeyCache());
  return {
    sub: { identity: ok.identity, entry: ok.entry, cert: ok.leaf.der, chain: ok.chain.map((c) => c.fingerprint) },
    issuers: ok.chain.map((c) => ({ fingerprint: c.fingerprint, der: c.der })),
  };
}

export interface TestLog {
  shard: ShardRecord;
  rt: ShardRuntime;
  /** Index -> vector, for the real entries. */
  real: Map<number, Vector>;
  /** DER of every issuer by hex fingerprint. */
  issuerDers: Map<string, Uint8Array>;
  /** Append more synthetic x509 entries (one batch). */
  append(n: number): Promise<void>;
  stop(): Promise<void>;
}

export function shardConfig(over: Partial<ShardConfig> = {}): ShardConfig {
  return {
    name: 'test', prefix: '/2027h1', notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), keyFile: '/nonexistent', witnessFile: '/nonexistent.json',
    roots: [], poolSize: 1000, poolPeriodMs: 5, getEntriesMax: 100, state: 'active', mmd: 86400, submissionDeadlineMs: 10_000,
    rejectExpired: false, requireServerAuth: false, maxChainLength: 10, sthIntervalMs: 60_000, ...over,
  };
}

/**
 * Creates shard "test" and sequences `batches` of synthetic x509 entries, with the real
 * vectors' entries spread over the batches.
 */
export async function fillLog(storage: LogStorage, batches: number[], over: Partial<ShardConfig> = {}): Promise<TestLog> {
  const clock = () => Date.now();
  const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));
  const shard = await createShard(storage, 'test', signer, clock());
  const witness = new HeadWitness(join(mkdtempSync(join(tmpdir(), 'ctlog-fill-')), 'witness.json'), shard);
  const seq = new ShardSequencer(storage, shard, signer, { witness, poolSize: 5000, poolPeriodMs: 2, sthIntervalMs: 60_000, clock });
  await seq.start();
  const roots = RootStore.fromCerts([pemDer('ctcpp-ca-cert.pem')]);
  const real = new Map<number, Vector>();
  const issuerDers = new Map<string, Uint8Array>();
  const vs = vectors();
  let n = 0;
  const run = async (subs: Array<{ sub: Submission; issuers: Issuer[]; v?: Vector }>) => {
    const results = await seq.add(subs.map((s) => s.sub), subs.flatMap((s) => s.issuers));
    results.forEach((r, i) => {
      const v = subs[i]!.v;
      if (v) real.set(r.idx, v);
    });
    for (const s of subs) for (const is of s.issuers) issuerDers.set(Buffer.from(is.fingerprint).toString('hex'), is.der);
  };
  for (const [b, size] of batches.entries()) {
    const subs: Array<{ sub: Submission; issuers: Issuer[]; v?: Vector }> = [];
    for (let i = 0; i < size; i++) subs.push(syntheticSubmission(2 * n++)); // even: x509 entries
    // Spread the real entries: one or two per batch, in the middle of the batch.
    for (const v of vs.splice(0, Math.ceil(vectors().length / batches.length))) {
      subs.splice(Math.floor(subs.length / 2), 0, { ...realSubmission(v, roots), v });
    }
    await run(subs);
    void b;
  }
  const rt: ShardRuntime = {
    config: shardConfig(over),
    id: shard.id,
    logId: shard.logId,
    publicKey: shard.publicKey,
    roots,
    origin: 'ct.example.org/2027h1',
  };
  return {
    shard,
    rt,
    real,
    issuerDers,
    append: async (k: number) => {
      const subs = Array.from({ length: k }, () => syntheticSubmission(2 * n++));
      await run(subs);
    },
    stop: () => seq.stop(),
  };
}

export { sha };
