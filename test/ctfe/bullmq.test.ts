// The production write path: CTFE → BullSubmissionQueue on real Redis (fresh prefix) →
// BullSubmissionConsumer → ShardSequencer on real MariaDB. Same independent SCT checks as
// the in-process tests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureChains, fixtureRoots, generatedPki, type GeneratedPki } from './chains.js';
import { b64, leafHashOf, post, startHarness, verifySctJson, type Harness } from './harness.js';

describe('CTFE write path, BullMQ on Redis, mysql', () => {
  let h: Harness;
  let pki: GeneratedPki;
  before(async () => {
    pki = await generatedPki();
    h = await startHarness({
      backend: 'mysql',
      queue: 'bullmq',
      shards: [
        { name: 'wide', prefix: '/wide', notAfterStart: '1970-01-01T00:00:00Z', notAfterLimit: '2100-01-01T00:00:00Z' },
        { name: 'h1', prefix: '/2026h1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z' },
      ],
      roots: [...fixtureRoots(), pki.root.der],
    });
  });
  after(async () => h.close());

  test('certificates and precertificates, fixture and generated, get SCTs in the tree; duplicates add nothing', async () => {
    const jobs = [...fixtureChains().map((c) => ({ shard: 'wide', c })), ...pki.chains.map((c) => ({ shard: 'h1', c }))];
    const answers = await Promise.all(
      jobs.map(async ({ shard, c }) => {
        const rt = h.runtimes.get(shard)!;
        const res = await post(`${h.url}${rt.config.prefix}/ct/v1/${c.endpoint}`, { chain: c.ders.map(b64) });
        assert.equal(res.status, 200, `${c.name}: ${JSON.stringify(res.body)}`);
        const sct = verifySctJson(res.body, rt, c.entry);
        assert.ok(await h.db.storage.findByLeafHash(rt.id, leafHashOf(sct.timestamp, c.entry, sct.extensions)), `${c.name} is in the tree`);
        return sct;
      }),
    );
    const h1 = h.runtimes.get('h1')!;
    const size = (await h.db.storage.currentHead(h1.id)).treeSize;
    assert.equal(size, pki.chains.length);
    const c = pki.chains[2]!;
    const again = await post(`${h.url}/2026h1/ct/v1/add-pre-chain`, { chain: c.ders.map(b64) });
    assert.equal(again.status, 200);
    const first = answers[fixtureChains().length + 2]!;
    assert.equal(again.body.timestamp, first.timestamp);
    assert.equal(again.body.extensions, b64(first.extensions));
    verifySctJson(again.body, h1, c.entry);
    assert.equal((await h.db.storage.currentHead(h1.id)).treeSize, size);
  });

  test('a bad chain is refused before it reaches Redis', async () => {
    const res = await post(`${h.url}/2026h1/ct/v1/add-chain`, { chain: [b64(pki.stranger.der)] });
    assert.equal(res.status, 400);
    assert.match(String(res.body.error), /unknown root/);
  });
});
