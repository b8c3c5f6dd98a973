// The whole life of a shard, on MariaDB and on SQLite, with 100,000+ entries: submit, the
// automatic read-only rule (fake clock), freeze, export, verify, prune, and serving the
// pruned shard from its export. An RFC 6962 monitor (root rebuilt from get-entries,
// get-proof-by-hash for sampled leaves) and a tile client record every answer before the
// prune; after it, every answer must be byte-for-byte the same. Then the bad inputs: freeze
// of an unknown shard, export to a non-empty directory, prune without an export, a state
// moved backwards in shards.yaml, and export files changed after the fact.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLog, shardOrigin, type RunningLog } from '../../src/bin/start-log.js';
import { loadIssuer, makeChain, makeIntermediate } from '../../src/cli/cert-factory.js';
import { runShardExport } from '../../src/cli/shard-export.js';
import { runShardFreeze } from '../../src/cli/shard-freeze.js';
import { runShardPrune } from '../../src/cli/shard-prune.js';
import { loadConfig } from '../../src/config/config.js';
import { loadSigner } from '../../src/config/key-file.js';
import { TILE_WIDTH, dataTilePath, leafHash, tilePath, tilesForSize, verifyInclusion } from '../../src/merkle/index.js';
import { ExportError, ExportStore, exportShard, verifyExport } from '../../src/read/index.js';
import { verifySth } from '../../src/signing/index.js';
import { createShard } from '../../src/storage/shard-init.js';
import { LifecycleError, reconcileDeclaredStates, shardLifecycle } from '../../src/storage/shard-lifecycle.js';
import { b64, equal } from '../../src/util/bytes.js';
import { BACKENDS, freshDb, writeKey, type TestDb } from '../helpers/services.js';
import { fastFill } from './fast-fill.js';

const N = Number(process.env.CTLOG_LIFECYCLE_ENTRIES ?? 100_000);
const DAY = 86400_000;
const REPO = resolve(import.meta.dirname, '../..');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

for (const backend of BACKENDS) {
  describe(`shard lifecycle on ${backend} (${N} entries)`, () => {
    let db: TestDb;
    let dir: string;
    let run: RunningLog | undefined;
    let base: string;
    let now = Date.parse('2026-06-01T00:00:00Z');
    const clock = () => now;
    const notAfterLimit = Date.parse('2026-07-01T00:00:00Z');
    let configFile: string;
    let exportDir: string;
    /** URL -> [status, sha256 of body] recorded before the prune. */
    const before_ = new Map<string, [number, string]>();

    const get = async (path: string) => {
      const r = await fetch(base + path);
      return { status: r.status, body: new Uint8Array(await r.arrayBuffer()), type: r.headers.get('content-type'), cache: r.headers.get('cache-control') };
    };
    const getJson = async (path: string) => {
      const r = await get(path);
      assert.equal(r.status, 200, `${path}: ${Buffer.from(r.body).toString().slice(0, 300)}`);
      return JSON.parse(Buffer.from(r.body).toString());
    };
    const start = async () => {
      run = await startLog({
        roles: ['ctfe', 'sequencer', 'read'], configFile, dataDir: db.dataDir, listen: '127.0.0.1:0', databaseUrl: db.url,
        migrate: true, clock, statePollMs: 100, log: { info() {}, warn() {}, error() {}, debug() {} } as never,
      });
      base = run.url + '/y2026';
    };

    before(async () => {
      db = await freshDb(backend);
      dir = mkdtempSync(join(tmpdir(), 'ctlog-lifecycle-'));
      exportDir = join(dir, 'export');
      const keyFile = writeKey(dir, 'y2026');
      const yaml = (extra = '') => `log:\n  base_url: https://ct.example.org/logs\n  operator: Example CT\nshards:\n  - name: y2026\n    prefix: /y2026\n    not_after_start: 2026-01-01T00:00:00Z\n    not_after_limit: 2026-07-01T00:00:00Z\n    key: ${keyFile}\n    roots: ${join(REPO, 'demo/demo-root.pem')}\n    get_entries_max: 1000\n    sth_interval_ms: 100\n    pool_period_ms: 5\n${extra}`;
      configFile = join(dir, 'shards.yaml');
      writeFileSync(configFile, yaml());
      writeFileSync(join(dir, 'backwards.yaml'), yaml('    state: active\n'));
      const signer = loadSigner(keyFile);
      const shard = await createShard(db.storage, 'y2026', signer, clock());
      const t0 = performance.now();
      await fastFill(db.storage, shard, signer, N, { clock: () => ++now, witnessFile: join(db.dataDir, 'witness', 'y2026.json') });
      console.log(`# ${backend}: filled ${N} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await start();
    });
    after(async () => {
      await run?.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('submit: add-chain answers an SCT; log.v3.json says usable', async () => {
      const root = loadIssuer(readFileSync(join(REPO, 'demo/demo-root.pem'), 'utf8'), readFileSync(join(REPO, 'demo/demo-root-key.pem'), 'utf8'));
      const chain = makeChain(makeIntermediate(root, now), { kind: 'x509', notBefore: now - DAY, notAfter: Date.parse('2026-06-15T00:00:00Z') });
      const r = await fetch(base + '/ct/v1/add-chain', { method: 'POST', body: JSON.stringify({ chain: chain.map(b64) }) });
      assert.equal(r.status, 200, await r.clone().text());
      const meta = await getJson('/log.v3.json');
      assert.ok(meta.state.usable);
      assert.equal(meta.ctlog_state, 'active');
      assert.equal(meta.operator.name, 'Example CT');
      assert.equal(meta.url, 'https://ct.example.org/logs/y2026/');
      assert.equal(meta.monitoring_url, meta.url);
      assert.equal(meta.mmd, 86400);
      assert.deepEqual(meta.temporal_interval, { start_inclusive: '2026-01-01T00:00:00Z', end_exclusive: '2026-07-01T00:00:00Z' });
      assert.equal(meta.log_id, b64(run!.shards[0]!.logId));
    });

    test('the automatic rule: read-only a grace period after not_after_limit, followed without restart', async () => {
      now = notAfterLimit + 6 * DAY;
      await run!.sequencers!.poll();
      assert.equal((await db.storage.getShard('y2026'))!.state, 'active', 'still active within the 7-day grace');
      now = notAfterLimit + 7 * DAY + 1;
      await run!.sequencers!.poll();
      assert.equal((await db.storage.getShard('y2026'))!.state, 'read-only');
      await run!.pollStates();
      const r = await fetch(base + '/ct/v1/add-chain', { method: 'POST', body: '{"chain":[]}' });
      assert.equal(r.status, 403);
      assert.match((await r.json()).error, /y2026 is read-only and accepts no new entries/);
      assert.equal((await get('/ct/v1/get-sth')).status, 200, 'reads go on');
    });

    test('bad input: freeze of an unknown shard; prune without an export; export of a shard not frozen', async () => {
      const config = loadConfig(configFile, db.dataDir);
      await assert.rejects(runShardFreeze({ storage: db.storage, config, name: 'nope', settleMs: 0 }), (e: Error) => e instanceof LifecycleError && /no shard named "nope".*y2026/.test(e.message));
      await assert.rejects(runShardPrune({ storage: db.storage, name: 'y2026', verify: verifyExport, settleMs: 0 }), (e: Error) => e instanceof LifecycleError && /needs a verified export first/.test(e.message));
      await assert.rejects(
        runShardExport({ storage: db.storage, config, name: 'y2026', out: exportDir, origin: (p) => shardOrigin(config, p), exporter: exportShard }),
        (e: Error) => e instanceof LifecycleError && /only a frozen shard can be exported.*shard freeze y2026/.test(e.message),
      );
    });

    test('freeze: the final STH is signed and recorded; get-sth keeps returning it; idle re-signing stops', async () => {
      const config = loadConfig(configFile, db.dataDir);
      const out: string[] = [];
      now += 1000;
      await runShardFreeze({ storage: db.storage, config, name: 'y2026', settleMs: 0, clock, out: (s) => out.push(s) });
      assert.match(out.join(''), /froze shard y2026 \(state frozen\)/);
      const rec = (await db.storage.getShard('y2026'))!;
      assert.equal(rec.state, 'frozen');
      assert.equal(rec.head.treeSize, N + 1);
      assert.ok(verifySth(rec.publicKey, rec.head, rec.head.signature));
      await runShardFreeze({ storage: db.storage, config, name: 'y2026', settleMs: 0, clock, out: (s) => out.push(s) });
      assert.match(out.join(''), /already frozen/, 'idempotent');
      await run!.pollStates();
      now += 10_000;
      await new Promise((r) => setTimeout(r, 400));
      const sth = await getJson('/ct/v1/get-sth');
      assert.equal(sth.timestamp, rec.head.timestamp, 'no STH after the final one');
      assert.equal(sth.tree_size, N + 1);
      assert.equal((await db.storage.getShard('y2026'))!.head.timestamp, rec.head.timestamp);
      const meta = await getJson('/log.v3.json');
      assert.deepEqual(meta.state.readonly.final_tree_head, { sha256_root_hash: b64(rec.head.rootHash), tree_size: N + 1 });
      // shards.yaml may not move it back.
      await assert.rejects(
        reconcileDeclaredStates(db.storage, loadConfig(join(dir, 'backwards.yaml'), db.dataDir).shards, now),
        (e: Error) => e instanceof LifecycleError && /declares state: active, but the database has it frozen; a shard never moves backwards/.test(e.message),
      );
      await assert.rejects(
        startLog({ roles: ['ctfe', 'sequencer', 'read'], configFile: join(dir, 'backwards.yaml'), dataDir: db.dataDir, listen: '127.0.0.1:0', databaseUrl: db.url, clock, log: { info() {}, warn() {}, error() {}, debug() {} } as never }),
        /never moves backwards/,
      );
    });

    test('monitor and tile client before the prune: root rebuilt from get-entries, proofs verify; every answer recorded', async () => {
      const sth = await getJson('/ct/v1/get-sth');
      const size = sth.tree_size as number;
      const leaves: Uint8Array[] = [];
      const urls: string[] = ['/ct/v1/get-sth', '/checkpoint', '/ct/v1/get-roots'];
      for (let s = 0; s < size; s += 1000) {
        const u = `/ct/v1/get-entries?start=${s}&end=${Math.min(size, s + 1000) - 1}`;
        urls.push(u);
        const page = await getJson(u);
        for (const e of page.entries) leaves.push(leafHash(fromB64(e.leaf_input)));
      }
      assert.equal(leaves.length, size);
      const rebuilt = naive(leaves);
      assert.equal(b64(rebuilt), sth.sha256_root_hash, 'root rebuilt from get-entries = STH root');
      for (let k = 0; k < 40; k++) {
        const i = Math.floor((k * size) / 40) + (k % 7);
        const u = `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(leaves[i]!))}&tree_size=${size}`;
        urls.push(u);
        const p = await getJson(u);
        assert.equal(p.leaf_index, i);
        verifyInclusion(leaves[i]!, i, size, p.audit_path.map(fromB64), fromB64(sth.sha256_root_hash));
        urls.push(`/ct/v1/get-entry-and-proof?leaf_index=${i}&tree_size=${size}`);
        urls.push(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(leaves[i]!))}&tree_size=${Math.max(i + 1, Math.floor(size / 3))}`);
        urls.push(`/ct/v1/get-sth-consistency?first=${i + 1}&second=${size}`);
      }
      // Ragged pages, errors and partial tiles are answers too.
      urls.push('/ct/v1/get-entries?start=5&end=17', `/ct/v1/get-entries?start=${size - 3}&end=${size + 50}`, `/ct/v1/get-entries?start=${size}&end=${size + 1}`);
      urls.push('/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=1', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(new Uint8Array(32)))}&tree_size=${size}`);
      urls.push(`/ct/v1/get-sth-consistency?first=1&second=${size + 1}`, '/tile/0/000.p/5', '/tile/data/000.p/7', '/tile/1/000.p/3', '/issuer/' + '0'.repeat(64));
      for (const t of tilesForSize(size)) urls.push('/' + tilePath(t));
      for (let i = 0; i * TILE_WIDTH < size; i++) urls.push('/' + dataTilePath(i, Math.min(TILE_WIDTH, size - i * TILE_WIDTH)));
      for (const u of urls) {
        const r = await get(u);
        before_.set(u, [r.status, `${r.type} ${r.cache} ${sha(r.body)}`]);
      }
      // Issuers named by the data tiles.
      const { decodeDataTile } = await import('../../src/tls/index.js');
      const fps = new Set<string>();
      for (let i = 0; i * TILE_WIDTH < size; i += 50) {
        for (const l of decodeDataTile((await get('/' + dataTilePath(i, Math.min(TILE_WIDTH, size - i * TILE_WIDTH)))).body)) for (const f of l.chainFingerprints) fps.add(Buffer.from(f).toString('hex'));
      }
      for (const f of fps) {
        const r = await get(`/issuer/${f}`);
        assert.equal(r.status, 200);
        before_.set(`/issuer/${f}`, [r.status, `${r.type} ${r.cache} ${sha(r.body)}`]);
      }
      assert.ok([...before_.values()].filter(([s]) => s === 200).length > 2 * size / TILE_WIDTH);
    });

    test('export: bad directory refused; writes, verifies, records; a rerun is idempotent; resumes after interruption', async () => {
      const config = loadConfig(configFile, db.dataDir);
      const origin = (p: string) => shardOrigin(config, p);
      const busy = join(dir, 'busy');
      mkdirSync(busy);
      writeFileSync(join(busy, 'notes.txt'), 'mine');
      await assert.rejects(runShardExport({ storage: db.storage, config, name: 'y2026', out: busy, origin, exporter: exportShard }), (e: Error) => e instanceof ExportError && /is not empty/.test(e.message));
      // Interrupt an export half-way (the progress callback throws), then resume it.
      let phases = 0;
      await assert.rejects(
        exportShard({ storage: db.storage, shard: (await db.storage.getShard('y2026'))!, origin: origin('/y2026'), dir: exportDir, onProgress: (p) => {
          if (p.phase === 'data tiles' && p.done > N / 2) throw new Error('interrupted');
          phases++;
        } }),
        /interrupted/,
      );
      assert.ok(phases > 0);
      assert.ok(!existsSync(join(exportDir, 'manifest.json')), 'an interrupted export has no manifest');
      // What a crash mid-write leaves: a temporary name, never a final one.
      const stray = join(exportDir, 'tile', 'data', '000.tmp-12345');
      writeFileSync(stray, 'half a tile');
      const progress: string[] = [];
      const out: string[] = [];
      const r = await runShardExport({ storage: db.storage, config, name: 'y2026', out: exportDir, origin, exporter: exportShard, print: (s) => out.push(s), progress: (p) => progress.push(p.phase) });
      assert.match(out.join(''), /resumed and finished shard y2026/);
      assert.ok(!existsSync(stray), 'temporaries of the interrupted run are removed');
      for (const ph of ['hash tiles', 'data tiles', 'issuers', 'leaf index', 'verify']) assert.ok(progress.includes(ph), `progress for ${ph}`);
      const lc = await shardLifecycle(db.storage, (await db.storage.getShard('y2026'))!.id);
      assert.equal(lc.state, 'exported');
      assert.equal(lc.exportDir, exportDir);
      assert.ok(equal(lc.exportManifestSha256!, r.manifestSha256));
      const m = JSON.parse(readFileSync(join(exportDir, 'manifest.json'), 'utf8'));
      const rec = (await db.storage.getShard('y2026'))!;
      assert.equal(m.final_sth.tree_size, rec.head.treeSize);
      assert.equal(m.final_sth.tree_head_signature, b64(rec.head.signature));
      assert.equal(readFileSync(join(exportDir, 'checkpoint'), 'utf8'), Buffer.from((await get('/checkpoint')).body).toString());
      const again: string[] = [];
      await runShardExport({ storage: db.storage, config, name: 'y2026', out: exportDir, origin, exporter: exportShard, print: (s) => again.push(s), progress: () => {} });
      assert.match(again.join(''), /already exported \(re-verified\)/);
    });

    test('prune: drops the rows, reports bytes; the read server serves the export byte-for-byte the same', async () => {
      const rec = (await db.storage.getShard('y2026'))!;
      const out: string[] = [];
      const report = await runShardPrune({ storage: db.storage, name: 'y2026', dataDir: db.dataDir, verify: verifyExport, settleMs: 300, print: (s) => out.push(s), progress: () => {} });
      console.log(`# ${backend}: ${out.join('').trim()}`);
      assert.ok(report.bytesBefore > report.bytesAfter, `bytes before ${report.bytesBefore} > after ${report.bytesAfter}`);
      if (backend === 'mysql') assert.ok(report.bytesAfter < 100_000, 'the shard keeps only its final STH row');
      const left = await db.storage.knex('entries').where({ shard_id: rec.id }).count({ n: '*' }).first();
      assert.equal(Number(left!.n), 0);
      assert.equal((await db.storage.knex('tiles').where({ shard_id: rec.id }).count({ n: '*' }).first())!.n == 0, true);
      assert.equal(run!.reader!.sources().y2026, 'export');
      let same = 0;
      for (const [u, [status, digest]] of before_) {
        const r = await get(u);
        assert.equal(r.status, status, `${u}: status ${r.status}, was ${status}: ${Buffer.from(r.body).toString().slice(0, 200)}`);
        assert.equal(`${r.type} ${r.cache} ${sha(r.body)}`, digest, `${u}: the same bytes as before the prune`);
        same++;
      }
      assert.equal(same, before_.size);
      const meta = await getJson('/log.v3.json');
      assert.equal(meta.ctlog_state, 'pruned');
      assert.equal(meta.state.readonly.final_tree_head.tree_size, rec.head.treeSize);
      // Idempotent; a restarted read server serves from the export at once.
      const again = await runShardPrune({ storage: db.storage, name: 'y2026', dataDir: db.dataDir, verify: verifyExport, settleMs: 0, print: () => {}, progress: () => {} });
      assert.ok(again.alreadyPruned);
      await run!.close();
      await start();
      assert.equal(run!.reader!.sources().y2026, 'export');
      const [status, digest] = before_.get('/ct/v1/get-entries?start=0&end=999')!;
      const r = await get('/ct/v1/get-entries?start=0&end=999');
      assert.equal(r.status, status);
      assert.equal(`${r.type} ${r.cache} ${sha(r.body)}`, digest);
    });

    test('bad input: export files changed afterwards are detected when served and when verified', async () => {
      const rec = (await db.storage.getShard('y2026'))!;
      const lc = await shardLifecycle(db.storage, rec.id);
      const tile = join(exportDir, dataTilePath(3, TILE_WIDTH));
      const good = readFileSync(tile);
      const bad = Buffer.from(good);
      bad[100] ^= 1;
      writeFileSync(tile, bad);
      try {
        // A fresh store (the running one keeps checked copies in memory).
        const store = await ExportStore.open(exportDir, { logId: rec.logId, publicKey: rec.publicKey, manifestSha256: lc.exportManifestSha256 });
        await assert.rejects(store.readEntries(rec.id, 3 * TILE_WIDTH, 3 * TILE_WIDTH + 1), (e: Error & { status?: number }) => e.status === 500 && /tile\/data\/003 does not match its SHA-256/.test(e.message));
        await run!.close();
        await start();
        const r = await get(`/ct/v1/get-entries?start=${3 * TILE_WIDTH}&end=${3 * TILE_WIDTH + 5}`);
        assert.equal(r.status, 500);
        assert.match(JSON.parse(Buffer.from(r.body).toString()).error, /does not match its SHA-256 in the manifest/);
        await assert.rejects(verifyExport(exportDir, { publicKey: rec.publicKey, logId: rec.logId, manifestSha256: lc.exportManifestSha256 }), /tile\/data\/003 does not match its SHA-256/);
      } finally {
        writeFileSync(tile, good);
      }
      // A changed manifest (e.g. re-hashed to cover a changed file) is caught by the hash recorded in the database.
      const mf = join(exportDir, 'manifest.json');
      const text = readFileSync(mf);
      writeFileSync(mf, text.toString().replace('"shard": "y2026"', '"shard": "y2026 "'));
      try {
        await assert.rejects(ExportStore.open(exportDir, { logId: rec.logId, publicKey: rec.publicKey, manifestSha256: lc.exportManifestSha256 }), /not the manifest recorded at export/);
        await assert.rejects(verifyExport(exportDir, { publicKey: rec.publicKey, logId: rec.logId, manifestSha256: lc.exportManifestSha256 }), /changed since the export was verified/);
      } finally {
        writeFileSync(mf, text);
      }
      await verifyExport(exportDir, { publicKey: rec.publicKey, logId: rec.logId, manifestSha256: lc.exportManifestSha256 });
    });
  });
}

/** RFC 6962 §2.1 MTH over all leaf hashes, bottom-up (as a monitor rebuilds it). */
function naive(leaves: Uint8Array[]): Uint8Array {
  let level: Buffer[] = leaves.map((l) => Buffer.from(l));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(createHash('sha256').update(Buffer.from([1])).update(level[i]!).update(level[i + 1]!).digest());
    if (level.length % 2) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0] ?? createHash('sha256').digest();
}
