// add-chain / add-pre-chain end to end: node:http → CTFE → in-process queue → a real
// ShardSequencer on MariaDB and on SQLite. Every SCT is checked with @noble/curves over an
// RFC 6962 §3.2 input written out by hand, and found in the tree by its leaf hash with the
// static-ct-api leaf_index extension naming its index (invariant 1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Metrics } from '../../src/metrics/metrics.js';
import { BACKENDS } from '../helpers/services.js';
import { fixtureChains, fixtureRoots, generatedPki, type GeneratedPki, type TestChain } from './chains.js';
import { b64, leafHashOf, post, startHarness, verifySctJson, type Harness } from './harness.js';

const u40 = (n: number): number[] => Array.from({ length: 5 }, (_, i) => Math.floor(n / 256 ** (4 - i)) % 256);

const SHARDS = [
  { name: 'wide', prefix: '/wide', notAfterStart: '1970-01-01T00:00:00Z', notAfterLimit: '2100-01-01T00:00:00Z' },
  { name: 'h1', prefix: '/2026h1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z' },
  { name: 'old', prefix: '/2025h2', notAfterStart: '2025-07-01T00:00:00Z', notAfterLimit: '2026-01-01T00:00:00Z', state: 'read-only' as const },
];

let pki: GeneratedPki;
before(async () => {
  pki = await generatedPki();
});

for (const backend of BACKENDS) {
  describe(`CTFE write path, in-process queue, ${backend}`, () => {
    let h: Harness;
    const metrics = new Metrics();
    before(async () => {
      h = await startHarness({ backend, queue: 'in-process', shards: SHARDS, roots: [...fixtureRoots(), pki.root.der], ctfe: { metrics, maxBodyBytes: 64 * 1024 } });
    });
    after(async () => h.close());

    /** Submits, verifies the SCT independently, and finds the leaf in the tree at the index its extensions name. */
    async function submitAndCheck(shard: string, c: TestChain): Promise<{ timestamp: number; extensions: Uint8Array; idx: number }> {
      const rt = h.runtimes.get(shard)!;
      const res = await post(`${h.url}${rt.config.prefix}/ct/v1/${c.endpoint}`, { chain: c.ders.map(b64) });
      assert.equal(res.status, 200, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(Object.keys(res.body).sort(), ['extensions', 'id', 'sct_version', 'signature', 'timestamp']);
      let sct;
      try {
        sct = verifySctJson(res.body, rt, c.entry);
      } catch (err) {
        throw new Error(`${c.name}: ${(err as Error).message}`);
      }
      const stored = await h.db.storage.findByLeafHash(rt.id, leafHashOf(sct.timestamp, c.entry, sct.extensions));
      assert.ok(stored, `${c.name}: the tree holds a leaf with the SCT's timestamp and extensions`);
      assert.equal(stored.timestamp, sct.timestamp);
      // static-ct-api: extension_type leaf_index(0), length 5, uint40 index.
      assert.deepEqual([...sct.extensions], [0, 0, 5, ...u40(stored.idx)]);
      return { ...sct, idx: stored.idx };
    }

    test('real-world and test-vector chains get SCTs that verify and are in the tree', async () => {
      for (const c of fixtureChains()) await submitAndCheck('wide', c);
    });

    test('generated chains (ECDSA and RSA issuers, precerts direct and via a PSC) get SCTs', async () => {
      for (const c of pki.chains) await submitAndCheck('h1', c);
    });

    test('a duplicate gets the same timestamp and extensions and adds no entry', async () => {
      const c = pki.chains[1]!;
      const rt = h.runtimes.get('h1')!;
      const first = await submitAndCheck('h1', c);
      const size = (await h.db.storage.currentHead(rt.id)).treeSize;
      const again = await submitAndCheck('h1', c);
      assert.equal(again.timestamp, first.timestamp);
      assert.deepEqual(again.extensions, first.extensions);
      assert.equal((await h.db.storage.currentHead(rt.id)).treeSize, size);
    });

    test('concurrent submissions, some duplicated, all answered; each identity logged once', async () => {
      const rt = h.runtimes.get('h1')!;
      const before = (await h.db.storage.currentHead(rt.id)).treeSize;
      const fresh = await Promise.all(Array.from({ length: 20 }, (_, i) => pki.freshLeaf(i + (backend === 'mysql' ? 0 : 100))));
      const all = [...fresh, ...fresh.slice(0, 10), ...fresh.slice(0, 5)];
      const results = await Promise.all(all.map((c) => submitAndCheck('h1', c)));
      assert.equal((await h.db.storage.currentHead(rt.id)).treeSize, before + fresh.length);
      for (let i = 0; i < 10; i++) assert.equal(results[20 + i]!.idx, results[i]!.idx);
    });

    test('the content type does not matter and a query string is ignored', async () => {
      const c = pki.chains[0]!;
      const res = await post(`${h.url}/2026h1/ct/v1/add-chain?x=1`, { chain: c.ders.map(b64) }, { headers: { 'Content-Type': 'text/plain' } });
      assert.equal(res.status, 200);
      verifySctJson(res.body, h.runtimes.get('h1')!, c.entry);
    });

    const bad: Array<{ scenario: string; path?: string; method?: string; body: () => unknown; status: number; message: RegExp; header?: [string, string] }> = [
      { scenario: 'malformed JSON', body: () => '{"chain": [', status: 400, message: /malformed JSON/ },
      { scenario: 'JSON that is not an object', body: () => '[1,2]', status: 400, message: /JSON object/ },
      { scenario: 'JSON null', body: () => 'null', status: 400, message: /JSON object/ },
      { scenario: 'empty body', body: () => '', status: 400, message: /malformed JSON/ },
      { scenario: 'chain missing', body: () => ({ certs: [] }), status: 400, message: /missing "chain"/ },
      { scenario: 'chain not an array', body: () => ({ chain: 'MIIB' }), status: 400, message: /"chain" must be an array/ },
      { scenario: 'chain empty', body: () => ({ chain: [] }), status: 400, message: /empty chain/ },
      { scenario: 'chain element not a string', body: () => ({ chain: [b64(pki.chains[0]!.ders[0]!), 42] }), status: 400, message: /chain\[1\] must be a base64 string/ },
      { scenario: 'chain element null', body: () => ({ chain: [null] }), status: 400, message: /chain\[0\] must be a base64 string, got null/ },
      { scenario: 'bad base64', body: () => ({ chain: [b64(pki.chains[1]!.ders[0]!), b64(pki.intRsa.der), 'not*base64!'] }), status: 400, message: /chain\[2\] is not valid base64/ },
      { scenario: 'URL-safe base64', body: () => ({ chain: ['ab-_'] }), status: 400, message: /chain\[0\] is not valid base64/ },
      { scenario: 'garbage DER', body: () => ({ chain: [b64(new Uint8Array(200).fill(0x41))] }), status: 400, message: /chain\[0\]/ },
      { scenario: 'too many certificates', body: () => ({ chain: Array.from({ length: 100 }, () => 'AAAA') }), status: 400, message: /chain too long/ },
      { scenario: 'chain not to an accepted root', body: () => ({ chain: [b64(pki.stranger.der)] }), status: 400, message: /unknown root/ },
      { scenario: 'precert to add-chain', body: () => ({ chain: pki.chains[2]!.ders.map(b64) }), status: 400, message: /precertificate.*add-pre-chain/ },
      { scenario: 'certificate to add-pre-chain', path: '/2026h1/ct/v1/add-pre-chain', body: () => ({ chain: pki.chains[1]!.ders.map(b64) }), status: 400, message: /not a precertificate.*add-chain/ },
      { scenario: 'NotAfter outside the window names the right shard', body: () => ({ chain: [b64(pki.late.der), b64(pki.intRsa.der)] }), status: 400, message: /outside this shard's window.*submit it to \/wide/ },
      { scenario: 'body over the limit', body: () => ({ chain: ['A'.repeat(100 * 1024)] }), status: 413, message: /exceeds 65536 bytes/ },
      { scenario: 'unknown path under the prefix', path: '/2026h1/ct/v1/add-chains', body: () => ({}), status: 404, message: /no such endpoint/ },
      { scenario: 'GET', method: 'GET', body: () => undefined, status: 405, message: /takes POST/, header: ['allow', 'POST'] },
      { scenario: 'PUT', method: 'PUT', body: () => '{}', status: 405, message: /takes POST/, header: ['allow', 'POST'] },
      { scenario: 'read-only shard', path: '/2025h2/ct/v1/add-chain', body: () => ({ chain: pki.chains[0]!.ders.map(b64) }), status: 403, message: /read-only.*\/wide, \/2026h1/ },
    ];
    for (const b of bad) {
      test(`bad request: ${b.scenario} → ${b.status}`, async () => {
        const body = b.body();
        const init: RequestInit = { method: b.method ?? 'POST' };
        if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
        const res = await fetch(`${h.url}${b.path ?? '/2026h1/ct/v1/add-chain'}`, init);
        const json = (await res.json()) as { error: string };
        assert.equal(res.status, b.status, json.error);
        assert.match(json.error, b.message);
        assert.equal(res.headers.get('content-type'), 'application/json');
        if (b.header) assert.equal(res.headers.get(b.header[0]), b.header[1]);
      });
    }

    test('metrics count submissions by shard, endpoint and outcome', async () => {
      const text = await metrics.registry.metrics();
      assert.match(text, /ctlog_submissions_total\{shard="h1",endpoint="add-chain",reason="new"\} \d+/);
      assert.match(text, /ctlog_submissions_total\{shard="h1",endpoint="add-chain",reason="duplicate"\} \d+/);
      assert.match(text, /ctlog_submissions_total\{shard="h1",endpoint="add-chain",reason="malformed_json"\} 2/);
      assert.match(text, /ctlog_submissions_total\{shard="h1",endpoint="add-pre-chain",reason="missing_poison"\} 1/);
      assert.match(text, /ctlog_http_requests_total\{shard="h1",endpoint="add-chain",code="413"\} 1/);
      assert.match(text, /ctlog_queue_depth\{shard="h1"\} \d+/);
    });
  });
}
