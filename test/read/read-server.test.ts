// The read server over real HTTP on MariaDB and SQLite: a shard filled by the sequencer
// (synthetic x509 entries plus real certificates and precertificates) is walked through
// every endpoint, and everything it answers is checked against the tree it claims: the
// root rebuilt from get-entries and from the tiles, every proof verified, the STH and the
// checkpoint signatures verified, precert leaves compared with the ct-cpp vectors.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  TILE_WIDTH, assemble, dataTilePath, leafHash, planRoot, tilePath, tilesForSize, verifyConsistency, verifyInclusion,
} from '../../src/merkle/index.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { createReader, type Reader } from '../../src/read/index.js';
import { verifySth } from '../../src/signing/index.js';
import type { TreeHead } from '../../src/storage/log-storage.js';
import {
  decodeCtExtensions, decodeDataTileAt, decodeMerkleTreeLeaf, decodePrecertChainEntry, decodeX509ChainEntry, encodeMerkleTreeLeaf,
  noteKeyId, parseRfc6962NoteSignature, parseSignedCheckpoint,
} from '../../src/tls/index.js';
import { b64, equal, hex } from '../../src/util/bytes.js';
import { BACKENDS, freshDb, type TestDb } from '../helpers/services.js';
import { naiveRoot } from '../helpers/synthetic.js';
import { fillLog, pemDer, sha, type TestLog } from './fill-log.js';

const PREFIX = '/2027h1';
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

interface Got {
  status: number;
  headers: Headers;
  body: Uint8Array;
  json: () => Record<string, unknown>;
}

for (const backend of BACKENDS) {
  describe(`read server on ${backend}`, () => {
    let db: TestDb;
    let log: TestLog;
    let reader: Reader;
    let server: Server;
    let base: string;
    let heads: TreeHead[];
    const metrics = new Metrics();
    // Batches chosen to cross full tiles (256) and pages (getEntriesMax = 100).
    const BATCHES = [1, 2, 254, 300, 3, 500];

    const get = async (path: string, init: RequestInit = {}): Promise<Got> => {
      const r = await fetch(base + path, init);
      const body = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, headers: r.headers, body, json: () => JSON.parse(Buffer.from(body).toString('utf8')) };
    };
    const getOk = async (path: string): Promise<Got> => {
      const r = await get(path);
      assert.equal(r.status, 200, `GET ${path}: ${Buffer.from(r.body).toString('utf8').slice(0, 300)}`);
      return r;
    };

    before(async () => {
      db = await freshDb(backend);
      log = await fillLog(db.storage, BATCHES);
      heads = await db.storage.treeHeads(log.shard.id);
      reader = createReader({ storage: db.open(), shards: [log.rt], metrics, clock: () => Date.now(), headTtlMs: 60_000 });
      server = createServer((req, res) => {
        if (!reader.handle(req, res)) {
          res.writeHead(418, { 'Content-Type': 'text/plain' });
          res.end('next handler');
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PREFIX}`;
    });
    after(async () => {
      reader?.close();
      reader?.close(); // idempotent
      await new Promise((r) => server?.close(r));
      await log?.stop();
      await db?.drop();
    });

    const current = () => heads[heads.length - 1]!;

    test('get-sth is the current signed tree head, byte-exact field names, signature verifies', async () => {
      const r = await getOk('/ct/v1/get-sth');
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.match(r.headers.get('cache-control')!, /max-age=5\b/);
      const j = r.json();
      assert.deepEqual(Object.keys(j), ['tree_size', 'timestamp', 'sha256_root_hash', 'tree_head_signature']);
      const h = current();
      assert.equal(j.tree_size, h.treeSize);
      assert.equal(j.timestamp, h.timestamp);
      assert.equal(j.sha256_root_hash, b64(h.rootHash));
      assert.ok(verifySth(log.shard.publicKey, { treeSize: h.treeSize, timestamp: h.timestamp, rootHash: h.rootHash }, fromB64(j.tree_head_signature as string)));
    });

    test('checkpoint is the same STH as a signed note', async () => {
      const r = await getOk('/checkpoint');
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.match(r.headers.get('cache-control')!, /max-age=5\b/);
      const cp = parseSignedCheckpoint(Buffer.from(r.body).toString('utf8'));
      const h = current();
      assert.equal(cp.origin, 'ct.example.org/2027h1');
      assert.equal(cp.treeSize, h.treeSize);
      assert.ok(equal(cp.rootHash, h.rootHash));
      assert.equal(cp.signatures.length, 1);
      const sig = cp.signatures[0]!;
      assert.equal(sig.name, cp.origin);
      assert.ok(equal(sig.keyId, noteKeyId(cp.origin, log.shard.logId)));
      const note = parseRfc6962NoteSignature(sig.signature);
      assert.equal(note.timestamp, h.timestamp);
      assert.ok(verifySth(log.shard.publicKey, { treeSize: cp.treeSize, timestamp: note.timestamp, rootHash: cp.rootHash }, note.treeHeadSignature));
    });

    test('walking get-entries rebuilds the STH root; leaves, extensions and extra_data are right', async () => {
      const size = current().treeSize;
      const hashes: Uint8Array[] = [];
      let precerts = 0;
      while (hashes.length < size) {
        const start = hashes.length;
        const r = await getOk(`/ct/v1/get-entries?start=${start}&end=${start + 1000}`);
        const entries = r.json().entries as Array<Record<string, string>>;
        assert.ok(entries.length > 0 && entries.length <= 100, 'capped at getEntriesMax');
        const full = entries.length === 100 && start % 100 === 0;
        assert.match(r.headers.get('cache-control')!, full ? /immutable/ : /max-age=5\b/);
        for (const [i, e] of entries.entries()) {
          const idx = start + i;
          assert.deepEqual(Object.keys(e), ['leaf_input', 'extra_data']);
          const leaf = fromB64(e.leaf_input!);
          const te = decodeMerkleTreeLeaf(leaf);
          assert.equal(decodeCtExtensions(te.extensions).leafIndex, idx, 'leaf_index extension');
          const extra = fromB64(e.extra_data!);
          const chain = te.entry.type === 'x509' ? decodeX509ChainEntry(extra) : decodePrecertChainEntry(extra).chain;
          for (const c of chain) assert.ok(log.issuerDers.has(hex(sha(c))), `entry ${idx}: chain certificate is a known issuer`);
          const v = log.real.get(idx);
          if (v) {
            // Independent expectation: the ct-cpp vector's MerkleTreeLeaf (its timestamp and extensions differ).
            const want = decodeMerkleTreeLeaf(fromB64(v.merkle_tree_leaf_b64)).entry;
            assert.deepEqual(te.entry.type, want.type, v.name);
            if (want.type === 'precert' && te.entry.type === 'precert') {
              precerts++;
              assert.equal(b64(te.entry.issuerKeyHash), v.issuer_key_hash_b64, `${v.name}: issuer_key_hash`);
              assert.equal(b64(te.entry.tbsCertificate), v.tbs_certificate_b64, `${v.name}: TBS`);
              const pce = decodePrecertChainEntry(extra);
              assert.ok(equal(pce.preCertificate, pemDer(`ctcpp-${v.chain[0]}`)), `${v.name}: pre_certificate is the submitted precert`);
              assert.deepEqual(pce.chain.map(hex), v.chain.slice(1).map((f) => hex(pemDer(`ctcpp-${f}`))), `${v.name}: precertificate_chain`);
            } else if (want.type === 'x509' && te.entry.type === 'x509') {
              assert.ok(equal(te.entry.certificate, want.certificate), v.name);
              assert.deepEqual(chain.map(hex), v.chain.map((f) => hex(pemDer(`ctcpp-${f}`))), `${v.name}: certificate_chain`);
            }
          } else {
            assert.equal(te.entry.type, 'x509');
          }
          hashes.push(leafHash(leaf));
        }
      }
      assert.equal(precerts, 4, 'all four ct-cpp precerts were served');
      assert.ok(equal(naiveRoot(hashes), current().rootHash), 'root of all leaves = STH root');
    });

    test('get-entries starts exactly at start, is capped, aligned, and cut at the tree size', async () => {
      const size = current().treeSize;
      const cases: Array<{ name: string; start: number; end: number; want: [number, number] }> = [
        { name: 'small range', start: 3, end: 7, want: [3, 7] },
        { name: 'single entry', start: 42, end: 42, want: [42, 42] },
        { name: 'over the cap: cut at the next page boundary', start: 5, end: 1000, want: [5, 99] },
        { name: 'exactly one aligned page', start: 200, end: 299, want: [200, 299] },
        { name: 'end beyond the tree', start: size - 3, end: size + 50, want: [size - 3, size - 1] },
      ];
      for (const c of cases) {
        const r = await getOk(`/ct/v1/get-entries?start=${c.start}&end=${c.end}`);
        const entries = r.json().entries as Array<Record<string, string>>;
        assert.equal(entries.length, c.want[1] - c.want[0] + 1, c.name);
        assert.equal(decodeCtExtensions(decodeMerkleTreeLeaf(fromB64(entries[0]!.leaf_input!)).extensions).leafIndex, c.want[0], c.name);
      }
      // The cached page is served again, byte for byte.
      const a = await getOk('/ct/v1/get-entries?start=200&end=299');
      const b = await getOk('/ct/v1/get-entries?start=200&end=299');
      assert.ok(equal(a.body, b.body));
    });

    test('get-proof-by-hash and get-entry-and-proof verify at every STH size', async () => {
      const entries = await db.storage.readEntries(log.shard.id, 0, current().treeSize);
      for (const h of heads.filter((x) => x.treeSize > 0)) {
        const picks = new Set([0, h.treeSize - 1, Math.floor(h.treeSize / 2), ...[...log.real.keys()].filter((i) => i < h.treeSize)]);
        for (const idx of picks) {
          const lh = entries[idx]!.leafHash;
          const p = await getOk(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(lh))}&tree_size=${h.treeSize}`);
          const pj = p.json();
          assert.deepEqual(Object.keys(pj), ['leaf_index', 'audit_path']);
          assert.equal(pj.leaf_index, idx);
          verifyInclusion(lh, idx, h.treeSize, (pj.audit_path as string[]).map(fromB64), h.rootHash);

          const ep = (await getOk(`/ct/v1/get-entry-and-proof?leaf_index=${idx}&tree_size=${h.treeSize}`)).json();
          assert.deepEqual(Object.keys(ep), ['leaf_input', 'extra_data', 'audit_path']);
          const leaf = fromB64(ep.leaf_input as string);
          assert.ok(equal(leafHash(leaf), lh), `leaf_input of ${idx} hashes to the stored leaf hash`);
          verifyInclusion(leafHash(leaf), idx, h.treeSize, (ep.audit_path as string[]).map(fromB64), h.rootHash);
        }
      }
      // Tree of size 1: the empty proof is [].
      const one = await getOk(`/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(entries[0]!.leafHash))}&tree_size=1`);
      assert.equal(Buffer.from(one.body).toString(), '{"leaf_index":0,"audit_path":[]}');
    });

    test('a "+" in hash that arrives unescaped (as a space) is tolerated', async () => {
      const entries = await db.storage.readEntries(log.shard.id, 0, current().treeSize);
      const e = entries.find((x) => b64(x.leafHash).includes('+'));
      assert.ok(e, 'some leaf hash has a + in base64');
      const r = await getOk(`/ct/v1/get-proof-by-hash?hash=${b64(e.leafHash)}&tree_size=${current().treeSize}`);
      assert.equal(r.json().leaf_index, e.idx);
    });

    test('get-sth-consistency verifies between every pair of STHs', async () => {
      const hs = heads.filter((x) => x.treeSize > 0);
      for (const a of hs) {
        for (const b of hs) {
          if (a.treeSize > b.treeSize) continue;
          const r = await getOk(`/ct/v1/get-sth-consistency?first=${a.treeSize}&second=${b.treeSize}`);
          const j = r.json();
          assert.deepEqual(Object.keys(j), ['consistency']);
          verifyConsistency(a.treeSize, b.treeSize, (j.consistency as string[]).map(fromB64), a.rootHash, b.rootHash);
        }
      }
      // Sizes with no STH of their own are fine too (tiles are prefix-stable).
      const size = current().treeSize;
      for (const [m, n] of [[1, 2], [7, 300], [256, 257], [255, 512], [100, size]] as const) {
        const proof = ((await getOk(`/ct/v1/get-sth-consistency?first=${m}&second=${n}`)).json().consistency as string[]).map(fromB64);
        const all = await db.storage.readEntries(log.shard.id, 0, n);
        verifyConsistency(m, n, proof, naiveRoot(all.slice(0, m).map((e) => e.leafHash)), naiveRoot(all.map((e) => e.leafHash)));
      }
      const z = await getOk(`/ct/v1/get-sth-consistency?first=0&second=${size}`);
      assert.equal(Buffer.from(z.body).toString(), '{"consistency":[]}');
      const same = await getOk(`/ct/v1/get-sth-consistency?first=${size}&second=${size}`);
      assert.equal(Buffer.from(same.body).toString(), '{"consistency":[]}');
    });

    test('hash tiles rebuild the root; data tiles hash to the level-0 tiles', async () => {
      const size = current().treeSize;
      const tiles = new Map<string, Uint8Array>();
      for (const t of tilesForSize(size)) {
        const r = await getOk(`/${tilePath(t)}`);
        assert.equal(r.headers.get('content-type'), 'application/octet-stream');
        assert.match(r.headers.get('cache-control')!, /immutable/);
        assert.equal(r.body.byteLength, t.width * 32, tilePath(t));
        tiles.set(`${t.level}/${t.index}`, r.body);
        if (t.level === 0) {
          const d = await getOk(`/${dataTilePath(t.index, t.width)}`);
          assert.equal(d.headers.get('content-type'), 'application/octet-stream');
          const leaves = decodeDataTileAt(d.body);
          assert.equal(leaves.length, t.width);
          leaves.forEach((l, i) => {
            const idx = t.index * TILE_WIDTH + i;
            assert.equal(decodeCtExtensions(l.leaf.entry.extensions).leafIndex, idx);
            assert.equal(l.leaf.preCertificate !== undefined, l.leaf.entry.entry.type === 'precert');
            for (const f of l.leaf.chainFingerprints) assert.ok(log.issuerDers.has(hex(f)), 'fingerprint of a known issuer');
            const h = leafHash(encodeMerkleTreeLeaf(l.leaf.entry));
            assert.ok(equal(h, r.body.subarray(i * 32, (i + 1) * 32)), `data tile entry ${idx} hashes to level-0 tile entry`);
          });
        }
      }
      const [root] = assemble(planRoot(size), (l, i) => tiles.get(`${l}/${i}`));
      assert.ok(equal(root!, current().rootHash), 'tiles rebuild the STH root');

      // A partial request on a full tile is its prefix; a full request on a partial tile is a 404.
      const full = tiles.get('0/0')!;
      const p = await getOk('/tile/0/000.p/10');
      assert.ok(equal(p.body, full.subarray(0, 320)));
      const edge = tilesForSize(size).find((t) => t.level === 0 && t.width < TILE_WIDTH)!;
      assert.equal((await get(`/${tilePath({ ...edge, width: TILE_WIDTH })}`)).status, 404);
      assert.equal((await get(`/${dataTilePath(edge.index, TILE_WIDTH)}`)).status, 404);
      assert.equal((await get(`/${tilePath({ ...edge, width: edge.width + 1 })}`)).status, 404);
      assert.equal((await get(`/${dataTilePath(edge.index, edge.width + 1)}`)).status, 404);
      assert.equal((await get(`/${tilePath({ level: 0, index: edge.index + 1, width: TILE_WIDTH })}`)).status, 404);
      // A partial data tile of a full tile: the first W entries.
      const d0 = await getOk('/tile/data/000');
      const d10 = await getOk('/tile/data/000.p/10');
      assert.ok(equal(d10.body, d0.body.subarray(0, decodeDataTileAt(d0.body)[9]!.end)));
    });

    test('issuers are served by fingerprint; get-roots lists the accepted roots', async () => {
      for (const [fp, der] of log.issuerDers) {
        const r = await getOk(`/issuer/${fp}`);
        assert.equal(r.headers.get('content-type'), 'application/pkix-cert');
        assert.match(r.headers.get('cache-control')!, /immutable/);
        assert.ok(equal(r.body, der));
      }
      const roots = (await getOk('/ct/v1/get-roots')).json();
      assert.deepEqual(roots, { certificates: [b64(pemDer('ctcpp-ca-cert.pem'))] });
    });

    test('bad requests get 4xx with a clear message, never a 500', async () => {
      const size = current().treeSize;
      const known = b64((await db.storage.readEntries(log.shard.id, size - 1, size))[0]!.leafHash);
      const unknown = b64(new Uint8Array(32).fill(7));
      const cases: Array<[name: string, path: string, status: number, msg: RegExp]> = [
        ['consistency: first missing', '/ct/v1/get-sth-consistency?second=5', 400, /missing parameter "first"/],
        ['consistency: second not an integer', '/ct/v1/get-sth-consistency?first=1&second=x', 400, /"second" must be a non-negative decimal/],
        ['consistency: negative', '/ct/v1/get-sth-consistency?first=-1&second=5', 400, /"first" must be a non-negative/],
        ['consistency: first > second', '/ct/v1/get-sth-consistency?first=6&second=5', 400, /larger than "second"/],
        ['consistency: second beyond the tree', `/ct/v1/get-sth-consistency?first=1&second=${size + 1}`, 503, /larger than the current tree size/],
        ['consistency: fractional', '/ct/v1/get-sth-consistency?first=1.5&second=5', 400, /"first" must be/],
        ['consistency: huge', '/ct/v1/get-sth-consistency?first=1&second=99999999999999999999', 400, /"second" must be/],
        ['proof: hash missing', `/ct/v1/get-proof-by-hash?tree_size=${size}`, 400, /missing parameter "hash"/],
        ['proof: hash not base64', `/ct/v1/get-proof-by-hash?hash=@@@@&tree_size=${size}`, 400, /not base64/],
        ['proof: hash too short', `/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=${size}`, 400, /32-byte/],
        ['proof: tree_size missing', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(known)}`, 400, /missing parameter "tree_size"/],
        ['proof: tree_size 0', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(known)}&tree_size=0`, 400, /at least 1/],
        ['proof: tree_size beyond the tree', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(known)}&tree_size=${size + 1}`, 503, /larger than the current tree size/],
        ['proof: leaf not in the smaller tree', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(known)}&tree_size=${size - 1}`, 400, /not in the tree of size/],
        ['proof: unknown hash (404, as the CTFE)', `/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(unknown)}&tree_size=${size}`, 404, /no entry with leaf hash/],
        ['entries: start missing', '/ct/v1/get-entries?end=5', 400, /missing parameter "start"/],
        ['entries: end missing', '/ct/v1/get-entries?start=5', 400, /missing parameter "end"/],
        ['entries: start > end', '/ct/v1/get-entries?start=6&end=5', 400, /larger than "end"/],
        ['entries: start at the tree size', `/ct/v1/get-entries?start=${size}&end=${size + 5}`, 503, /not below the current tree size/],
        ['entries: negative', '/ct/v1/get-entries?start=-5&end=5', 400, /"start" must be/],
        ['entry-and-proof: index >= tree_size', '/ct/v1/get-entry-and-proof?leaf_index=5&tree_size=5', 400, /not below "tree_size"/],
        ['entry-and-proof: tree_size beyond the tree', `/ct/v1/get-entry-and-proof?leaf_index=0&tree_size=${size + 1}`, 503, /larger than the current tree size/],
        ['entry-and-proof: missing', '/ct/v1/get-entry-and-proof?tree_size=5', 400, /missing parameter "leaf_index"/],
        ['tile: malformed path', '/tile/0/1234', 400, /malformed tile path/],
        ['tile: leading zero width', '/tile/0/000.p/010', 400, /malformed tile path/],
        ['tile: not stored', '/tile/3/000', 404, /does not exist/],
        ['data tile: beyond the tree', '/tile/data/x001/000', 404, /does not exist/],
        ['issuer: not hex', '/issuer/xyz', 400, /64 lowercase hex/],
        ['issuer: upper case', `/issuer/${'A'.repeat(64)}`, 400, /64 lowercase hex/],
        ['issuer: unknown', `/issuer/${'0'.repeat(64)}`, 404, /no issuer/],
        ['unknown endpoint', '/ct/v1/get-everything', 404, /no such endpoint/],
        ['unknown path under the prefix', '/nothing/here', 404, /no such endpoint/],
        ['the prefix itself', '', 404, /no such endpoint/],
      ];
      for (const [name, path, status, msg] of cases) {
        const r = await get(path);
        assert.equal(r.status, status, `${name}: ${Buffer.from(r.body).toString().slice(0, 200)}`);
        assert.equal(r.headers.get('content-type'), 'application/json', name);
        assert.equal(r.headers.get('cache-control'), 'no-store', name);
        assert.match(String(r.json().error), msg, name);
        // Beyond this server's tree is retryable (its replica may be behind), and says so.
        if (status === 503) assert.equal(r.headers.get('retry-after'), '1', name);
      }
    });

    test('methods, write paths and foreign paths', async () => {
      const post = await get('/ct/v1/get-sth', { method: 'POST', body: '{}' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      const head = await fetch(`${base}/checkpoint`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      for (const p of ['/ct/v1/add-chain', '/ct/v1/add-pre-chain']) {
        assert.equal((await get(p, { method: 'POST', body: '{}' })).status, 418, `${p} is left to the next handler`);
      }
      const foreign = await fetch(base.replace(PREFIX, '/2027h2/ct/v1/get-sth'));
      assert.equal(foreign.status, 418);
      const similar = await fetch(base.replace(PREFIX, '/2027h1x/ct/v1/get-sth'));
      assert.equal(similar.status, 418, 'a prefix matches whole path segments only');
    });

    test('a new batch is visible at once to a client that asks for it', async () => {
      const before = current().treeSize;
      await log.append(5);
      heads = await db.storage.treeHeads(log.shard.id);
      // The reader's cached head (TTL 60 s here) is older; asking for the new entries refreshes it.
      const r = await getOk(`/ct/v1/get-entries?start=${before}&end=${before + 10}`);
      assert.equal((r.json().entries as unknown[]).length, 5);
      const p = await getOk(`/ct/v1/get-entry-and-proof?leaf_index=${before + 4}&tree_size=${before + 5}`);
      verifyInclusion(leafHash(fromB64(p.json().leaf_input as string)), before + 4, before + 5, (p.json().audit_path as string[]).map(fromB64), current().rootHash);
      assert.equal((await getOk('/ct/v1/get-sth')).json().tree_size, before + 5);
    });

    test('requests are counted by shard, endpoint and code', async () => {
      const text = await metrics.registry.metrics();
      assert.match(text, /ctlog_http_requests_total\{shard="test",endpoint="get-entries",code="200"\} \d+/);
      assert.match(text, /ctlog_http_requests_total\{shard="test",endpoint="get-proof-by-hash",code="404"\} 1/);
      assert.match(text, /ctlog_http_requests_total\{shard="test",endpoint="get-sth",code="405"\} 1/);
      assert.match(text, /ctlog_http_request_duration_seconds_count\{shard="test",endpoint="tile"\} \d+/);
    });
  });
}
