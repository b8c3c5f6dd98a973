// `npm run bench -- sequencer [entries]`: entries/s committed to MariaDB through BullMQ by a
// `ctlog sequencer` process (submissions pre-validated: this measures queue + sequencing +
// storage, not chain checks), beside the rate at which the same rows go into a copy of the
// entries table by plain mysql2 multi-row inserts in the same run (the limit of any
// sequencer on this database), SCT latency percentiles, the CPU of each process, and MariaDB
// bytes per entry for a realistic synthetic mix (precertificates and their final
// certificates, four intermediates) and for real precertificates of a production
// static-ct-api log (test/fixtures/static-ct/navigli2025h2) sequenced in-process.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { issue, loadIssuer, makeIntermediate, typicalLeafExtensions } from '../src/cli/cert-factory.js';
import { loadSigner } from '../src/config/key-file.js';
import { BullSubmissionQueue } from '../src/queue/bullmq-queue.js';
import type { Issuer, Submission } from '../src/queue/submission.js';
import { ShardSequencer } from '../src/sequencer/shard-sequencer.js';
import { HeadWitness } from '../src/storage/head-witness.js';
import type { LogStorage } from '../src/storage/log-storage.js';
import { mysqlConnection } from '../src/storage/mysql-url.js';
import { decodeDataTile } from '../src/tls/index.js';
import { hex } from '../src/util/bytes.js';
import { formatName, identityHash, parseCertificate, precertTbs } from '../src/x509/index.js';
import { REDIS_URL, benchEnv, progress, type BenchEnv } from './_harness.js';
import { CpuWatch, servicePids } from './_load.js';
import { percentile, printTable, type Row } from './table.js';

const TOTAL = Number(process.argv[2] ?? 100_000);
const IN_FLIGHT = 4000;
/** The sequencer's pool: a commit holds up to this many entries (also the raw inserts' transaction size). */
const POOL = 2000;
/** Rows per multi-row INSERT statement in the raw limit (as log-storage.ts chunks them). */
const RAW_CHUNK = 500;
/** Today's MariaDB bytes per entry over all log tables (issue 14): neither mix may exceed it. */
const BYTES_TARGET = 886;
const NAVIGLI = resolve(import.meta.dirname, '../test/fixtures/static-ct/navigli2025h2/tile/data');
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const log = (s: string) => process.stderr.write(`${s}\n`);

if (!(TOTAL > 0)) {
  console.error('usage: npm run bench -- sequencer [entries]');
  process.exit(2);
}

// A realistic mix: pairs of a precertificate and its final certificate (with an embedded SCT
// list), ~1.2–1.5 KB each, from four intermediates (two RSA, two ECDSA) under one root.
const DEMO = resolve(import.meta.dirname, '../demo');
const root = loadIssuer(readFileSync(resolve(DEMO, 'demo-root.pem'), 'utf8'), readFileSync(resolve(DEMO, 'demo-root-key.pem'), 'utf8'));
const now = Date.now();
// Half RSA, half ECDSA, as in the Web PKI: RSA-2048 intermediates sign RSA-2048 leaves.
const intermediates = (['ec', 'rsa', 'ec', 'rsa'] as const).map((t) => makeIntermediate(root, now, t));
const issuers: Issuer[] = [...intermediates, root].map((c) => ({ fingerprint: sha(c.der), der: c.der }));
// Every leaf needs its own key bytes, or the database's compression would see the same key
// in every row: real P-256 / RSA-2048 SPKI structures with random point / modulus bytes.
const spkiTemplates = {
  ec: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' })),
  rsa: new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' })),
};
function randomSpki(type: 'ec' | 'rsa'): Uint8Array {
  const t = spkiTemplates[type].slice();
  // EC: the 64 bytes of X || Y end the SPKI. RSA: 255 modulus bytes before the 5-byte exponent.
  const [from, to] = type === 'ec' ? [t.length - 64, t.length] : [t.length - 5 - 255, t.length - 5];
  t.set(randomBytes(to - from), from);
  return t;
}

function pair(i: number): Submission[] {
  const inter = intermediates[i % intermediates.length]!;
  const chain = [sha(inter.der), sha(root.der)];
  const cn = `${randomBytes(8).toString('hex')}.bench.example`;
  const spki = randomSpki(i % 2 === 1 ? 'rsa' : 'ec');
  const common = { cn, notBefore: now - 3600_000, notAfter: now + 90 * 86400_000, spki, dnsNames: [cn, `www.${cn}`] };
  const pre = issue(inter, { ...common, precert: true, extensions: typicalLeafExtensions(false) });
  const fin = issue(inter, { ...common, extensions: typicalLeafExtensions(true) });
  const { tbs, issuerKeyHash } = precertTbs(parseCertificate(pre.der), parseCertificate(inter.der));
  const preEntry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs } as const;
  const finEntry = { type: 'x509', certificate: fin.der } as const;
  return [
    { identity: identityHash(preEntry), entry: preEntry, cert: pre.der, chain },
    { identity: identityHash(finEntry), entry: finEntry, cert: fin.der, chain },
  ];
}

/**
 * The limit: the same rows (the columns log-storage.ts writes) inserted into a fresh copy of
 * the entries table (same compression, indexes and partitions) with mysql2 alone, one
 * durable transaction of POOL rows at a time in multi-row statements of RAW_CHUNK rows, as
 * a sequencer must commit. Both of mysql2's protocols are tried (prepared `execute` with
 * binary parameters, and `query` with escaped values, which knex.raw uses); the faster is
 * the limit. The table is dropped afterwards so it does not count in bytes per entry.
 */
async function rawInsertRates(env: BenchEnv, subs: Submission[]): Promise<{ execute: number; query: number; mariadbUs: number }> {
  const conn = await mysql.createConnection({ ...mysqlConnection(env.dbUrl), supportBigNumbers: true } as mysql.ConnectionOptions);
  const ts = Date.now();
  const rows = subs.map((s, i) => [1, i, Buffer.from(sha(s.identity)), Buffer.from(s.identity), ts, s.entry.type === 'x509' ? 0 : 1, Buffer.from(s.cert), Buffer.concat(s.chain), 1]);
  const out = { execute: 0, query: 0, mariadbUs: 0 };
  const watch = new CpuWatch(servicePids());
  try {
    for (const how of ['execute', 'query'] as const) {
      await conn.query('CREATE TABLE raw_entries LIKE entries');
      watch.begin();
      const t0 = performance.now();
      for (let b = 0; b < rows.length; b += POOL) {
        await conn.beginTransaction();
        for (let c = b; c < Math.min(rows.length, b + POOL); c += RAW_CHUNK) {
          const chunk = rows.slice(c, Math.min(rows.length, b + POOL, c + RAW_CHUNK));
          const sql = `INSERT INTO raw_entries (shard_id, idx, leaf_hash, identity, timestamp, entry_type, cert, chain, rebuild) VALUES ${chunk.map(() => '(?,?,?,?,?,?,?,?,?)').join(',')}`;
          if (how === 'execute') await conn.execute(sql, chunk.flat());
          else await conn.query(sql, chunk.flat());
        }
        await conn.commit();
      }
      out[how] = rows.length / ((performance.now() - t0) / 1000);
      if (how === 'execute') out.mariadbUs = ((watch.end().get('mariadbd') ?? NaN) / rows.length) * 1e6;
      await conn.query('DROP TABLE raw_entries');
    }
  } finally {
    await conn.end();
  }
  return out;
}

/** Data + index bytes of every log table over the shard's entries. */
async function bytesPerEntry(storage: LogStorage, entries: number): Promise<{ all: number; entriesData: number; entriesIndex: number }> {
  const sizes = await storage.tableBytes();
  const total = ['entries', 'tiles', 'issuers', 'tree_heads', 'shards'].reduce((a, t) => a + (sizes[t]?.data ?? 0) + (sizes[t]?.index ?? 0), 0);
  return { all: total / entries, entriesData: sizes.entries!.data / entries, entriesIndex: sizes.entries!.index / entries };
}

/**
 * Real precertificates: the 1,024 entries of four data tiles of the navigli2025h2 log, logged
 * `copies` times over through an in-process ShardSequencer (the commit path of `ctlog
 * sequencer`) into a fresh shard.
 *
 * - The tiles hold each precertificate as submitted and its chain's fingerprints, not the
 *   issuer certificates. Each issuer is replaced by a stand-in (a CA made here, named after
 *   the real one, of the same key type): a row stores its chain as 32-byte fingerprints and
 *   the issuers once per shard, so only the fingerprints' values and five issuer rows differ
 *   from what the real log would store.
 * - 1,024 entries fill one 1 MiB extent of the entries table, too coarse to measure bytes
 *   per entry. So each precertificate is logged `copies` times, each copy with its serial
 *   number replaced by fresh random bytes of the same length (a real serial is random too),
 *   which gives it its own identity. Copies are 1,024 rows apart: InnoDB compresses each
 *   8 KiB page (a handful of rows) on its own, so no page holds two copies of a certificate.
 */
async function navigliBytes(copies: number): Promise<{ entries: number; meanDer: number; bytes: Awaited<ReturnType<typeof bytesPerEntry>>; seconds: number }> {
  const leaves = ['000', '001', '002', '003'].flatMap((f) => decodeDataTile(new Uint8Array(readFileSync(join(NAVIGLI, f)))));
  const stand = new Map<string, { issuer: ReturnType<typeof issue>; parsed: ReturnType<typeof parseCertificate> }>();
  const standRoot = issue(undefined, { cn: 'stand-in for the navigli2025h2 chain root', ca: true, notBefore: now - 86400_000, notAfter: now + 10 * 365 * 86400_000 });
  const chainOf = (l: (typeof leaves)[number]): Uint8Array[] => {
    const [first, last] = [hex(l.chainFingerprints[0]!), hex(l.chainFingerprints[l.chainFingerprints.length - 1]!)];
    if (l.chainFingerprints.length !== 2 || first === last) throw new Error('navigli fixture: expected [intermediate, root] chains');
    let s = stand.get(first);
    if (!s) {
      const pre = parseCertificate(l.preCertificate!);
      const keyType = pre.signatureAlgorithm.startsWith('1.2.840.113549') ? 'rsa' : 'ec';
      const issuer = issue(standRoot, { cn: `stand-in for ${formatName(pre.issuer)}`, ca: true, keyType, notBefore: now - 86400_000, notAfter: now + 5 * 365 * 86400_000 });
      s = { issuer, parsed: parseCertificate(issuer.der) };
      stand.set(first, s);
    }
    return [s.parsed.fingerprint, sha(standRoot.der)];
  };
  const subs: Submission[] = [];
  for (let c = 0; c < copies; c++) {
    for (const l of leaves) {
      const chain = chainOf(l);
      const der = l.preCertificate!.slice();
      const parsed = parseCertificate(der);
      if (c > 0) {
        const at = parsed.serial.byteOffset - der.byteOffset;
        der.set(randomBytes(parsed.serial.length), at);
        der[at] = (der[at]! & 0x7f) | 0x01; // positive, no leading zero octet
      }
      const { tbs, issuerKeyHash } = precertTbs(parseCertificate(der), stand.get(hex(l.chainFingerprints[0]!))!.parsed);
      const entry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs } as const;
      subs.push({ identity: identityHash(entry), entry, cert: der, chain });
    }
  }
  const chainIssuers: Issuer[] = [...[...stand.values()].map((s) => s.issuer), standRoot].map((c) => ({ fingerprint: sha(c.der), der: c.der }));
  const env = await benchEnv();
  try {
    const seq = new ShardSequencer(env.storage, env.shard, loadSigner(join(env.dir, 'keys', 'bench.pem')), { witness: new HeadWitness(join(env.dir, 'witness', 'bench.json'), env.shard), poolSize: POOL, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
    await seq.start();
    const t0 = performance.now();
    let next = 0;
    // Two pools in flight, so the sequencer always has the next one waiting.
    await Promise.all(
      [0, 1].map(async () => {
        while (next < subs.length) {
          const from = next;
          next = Math.min(subs.length, from + POOL);
          await seq.add(subs.slice(from, next), from === 0 ? chainIssuers : []);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await seq.stop();
    const size = (await env.storage.currentHead(env.shard.id)).treeSize;
    if (size !== subs.length) throw new Error(`navigli: ${size} entries logged of ${subs.length}`);
    return { entries: size, meanDer: subs.reduce((a, s) => a + s.cert.length, 0) / subs.length, bytes: await bytesPerEntry(env.storage, size), seconds };
  } finally {
    await env.cleanup();
  }
}

const env = await benchEnv({ pool_size: POOL, pool_period_ms: 20 });
try {
  const seqProc = await env.spawnCtlog(['sequencer']);
  const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: env.prefix, lingerMs: 5, maxBatch: 500, maxInFlight: IN_FLIGHT * 2, queueKey: env.queueKey });
  // Warm up: store the issuers, open the connections.
  await Promise.all(pair(0).map((s) => queue.submit('bench', s, issuers, 30_000)));
  const genStart = performance.now();
  const subs: Submission[] = [];
  for (let i = 0; subs.length < TOTAL; i++) subs.push(...pair(i));
  const certBytes = subs.reduce((a, s) => a + s.cert.length, 0) / subs.length;
  log(`generated ${subs.length.toLocaleString('en-US')} certificates and precertificates in ${((performance.now() - genStart) / 1000).toFixed(1)} s`);

  log('raw mysql2 multi-row inserts of the same rows…');
  const raw = await rawInsertRates(env, subs);
  const rawBest = Math.max(raw.execute, raw.query);

  const watch = new CpuWatch({ 'ctlog sequencer': [seqProc.child.pid!], ...servicePids() });
  const latencies: number[] = [];
  let next = 0;
  let done = 0;
  const started = performance.now();
  const ticker = setInterval(() => progress('sequenced', done, subs.length, started), 2000);
  watch.begin();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < subs.length) {
        const s = subs[next++]!;
        const t0 = performance.now();
        await queue.submit('bench', s, [], 60_000);
        latencies.push(performance.now() - t0);
        done++;
      }
    }),
  );
  const cpu = watch.end();
  const secs = (performance.now() - started) / 1000;
  clearInterval(ticker);
  progress('sequenced', done, subs.length, started);
  await queue.close();

  const head = await env.storage.currentHead(env.shard.id);
  const synthetic = await bytesPerEntry(env.storage, head.treeSize);
  const rate = subs.length / secs;

  const copies = Math.max(2, Math.round(TOTAL / 1024));
  log(`navigli2025h2: logging its 1,024 real precertificates ${copies} times in-process…`);
  const real = await navigliBytes(copies);

  const rows: Row[] = [
    { figure: 'entries committed per second (ctlog sequencer, BullMQ)', value: rate, unit: 'entries/s', target: 5000, goal: 'min' },
    { figure: '  raw limit: same rows, mysql2 multi-row inserts', value: rawBest, unit: 'rows/s' },
    { figure: '    of which prepared execute / escaped query', value: raw.execute, unit: `/ ${Math.round(raw.query).toLocaleString('en-US')} rows/s` },
    { figure: '  ratio to the raw limit', value: rate / rawBest, unit: 'x raw', target: 0.5, goal: 'min' },
    { figure: '  MariaDB CPU per entry: ctlog / raw execute', value: ((cpu.get('mariadbd') ?? NaN) / subs.length) * 1e6, unit: `/ ${raw.mariadbUs.toFixed(0)} µs` },
    { figure: 'SCT latency p50', value: percentile(latencies, 50), unit: 'ms' },
    { figure: 'SCT latency p99', value: percentile(latencies, 99), unit: 'ms' },
    { figure: 'tree size', value: head.treeSize, unit: 'entries' },
    { figure: 'synthetic mix: all log tables (data + index) per entry', value: synthetic.all, unit: 'bytes', target: BYTES_TARGET, goal: 'max' },
    { figure: '  entries table data / indexes per entry', value: synthetic.entriesData, unit: `/ ${synthetic.entriesIndex.toFixed(0)} bytes` },
    { figure: '  mean submitted DER size (certs and precerts)', value: certBytes, unit: 'bytes' },
    { figure: `navigli2025h2 real precerts (1,024 x ${copies}): all log tables per entry`, value: real.bytes.all, unit: 'bytes', target: BYTES_TARGET, goal: 'max' },
    { figure: '  entries table data / indexes per entry', value: real.bytes.entriesData, unit: `/ ${real.bytes.entriesIndex.toFixed(0)} bytes` },
    { figure: '  mean submitted DER size (precerts)', value: real.meanDer, unit: 'bytes' },
    { figure: '  in-process sequencer rate (no queue)', value: real.entries / real.seconds, unit: 'entries/s' },
  ];
  const ok = printTable(`sequencer: ${subs.length.toLocaleString('en-US')} pre-validated submissions through BullMQ into MariaDB (${IN_FLIGHT} in flight, pool ${POOL})`, rows);
  const cpuRows: Row[] = [...cpu].map(([name, s]) => ({ figure: name, value: (s / subs.length) * 1e6, unit: `µs per entry (${(s / secs).toFixed(2)} cores)` }));
  printTable("sequencer: CPU per entry committed (MariaDB/Redis figures include any other tenant's load)", cpuRows);
  process.exitCode = ok ? 0 : 1;
} finally {
  await env.cleanup();
}
