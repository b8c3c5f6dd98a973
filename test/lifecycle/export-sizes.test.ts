// Exports of small and edge-sized trees (empty, one entry, one full tile, a full tile and one)
// verify, and an ExportStore over each answers exactly what the database answers: the same
// entries, tiles, leaf lookups and issuers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tilesForSize } from '../../src/merkle/index.js';
import { ExportStore, exportShard, verifyExport } from '../../src/read/index.js';
import { createSigner, generateLogKey } from '../../src/signing/index.js';
import { createShard } from '../../src/storage/shard-init.js';
import { freezeShard } from '../../src/storage/shard-lifecycle.js';
import { createPrivateKey } from 'node:crypto';
import { freshDb, type TestDb } from '../helpers/services.js';
import { fastFill } from './fast-fill.js';

let db: TestDb;
let dir: string;
before(async () => {
  db = await freshDb('sqlite');
  dir = mkdtempSync(join(tmpdir(), 'ctlog-export-sizes-'));
});
after(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

for (const n of [0, 1, 256, 257, 700]) {
  test(`a tree of ${n} entries exports, verifies and reads back as from the database`, async () => {
    const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));
    const shard = await createShard(db.storage, `s${n}`, signer, Date.now());
    if (n) await fastFill(db.storage, shard, signer, n, { clock: Date.now, batch: 300, witnessFile: join(dir, 'witness', `s${n}.json`) });
    await freezeShard(db.storage, `s${n}`, signer, Date.now);
    const frozen = (await db.storage.getShard(`s${n}`))!;
    const out = join(dir, `s${n}`);
    const r = await exportShard({ storage: db.storage, shard: frozen, origin: `ct.example/s${n}`, dir: out });
    await verifyExport(out, { publicKey: frozen.publicKey, logId: frozen.logId, manifestSha256: r.manifestSha256 });
    const store = await ExportStore.open(out, { logId: frozen.logId, publicKey: frozen.publicKey, manifestSha256: r.manifestSha256 });
    const h = (x: { treeSize: number; timestamp: number; rootHash: Uint8Array; signature: Uint8Array }) => [x.treeSize, x.timestamp, Buffer.from(x.rootHash).toString('hex'), Buffer.from(x.signature).toString('hex')];
    assert.deepEqual(h(await store.currentHead()), h(frozen.head));
    const fromDb = await db.storage.readEntries(frozen.id, 0, n);
    const fromExport = await store.readEntries(frozen.id, 0, n);
    assert.equal(fromExport.length, n);
    fromDb.forEach((e, i) => {
      const x = fromExport[i]!;
      assert.deepEqual([x.idx, x.timestamp, x.entryType], [e.idx, e.timestamp, e.entryType]);
      assert.ok(Buffer.from(x.cert).equals(Buffer.from(e.cert)) && Buffer.from(x.leafHash).equals(Buffer.from(e.leafHash)));
      assert.deepEqual(x.chain.map((c) => Buffer.from(c).toString('hex')), e.chain.map((c) => Buffer.from(c).toString('hex')));
    });
    const ids = tilesForSize(n);
    const a = await db.storage.readTiles(frozen.id, ids);
    const b = await store.readTiles(frozen.id, ids);
    for (const t of ids) assert.ok(Buffer.from(b.get(`${t.level}/${t.index}`)!).equals(Buffer.from(a.get(`${t.level}/${t.index}`)!.subarray(0, t.width * 32))), `tile ${t.level}/${t.index}`);
    const hashes = fromDb.map((e) => e.leafHash);
    assert.deepEqual(await store.findIndexesByLeafHashes(frozen.id, [...hashes, new Uint8Array(32)]), await db.storage.findIndexesByLeafHashes(frozen.id, hashes));
    const fps = [...new Set(fromDb.flatMap((e) => e.chain.map((c) => Buffer.from(c).toString('hex'))))].map((h) => Buffer.from(h, 'hex'));
    const hexMap = (m: Map<string, Uint8Array>) => [...m].map(([k, v]) => [k, Buffer.from(v).toString('hex')]).sort();
    assert.deepEqual(hexMap(await store.readIssuers(fps)), hexMap(await db.storage.readIssuers(fps)));
  });
}
