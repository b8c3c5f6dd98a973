// Serve what was signed (issue 10, step 2): the sequencer signs an entry only if its stored
// row rebuilds to exactly the signed leaf, and an entry keeps being served by the rebuild
// version it was logged with after the precertificate code is made stricter.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { loadSigner } from '../../src/config/key-file.js';
import { extraData, rebuildEntry, tileLeaf } from '../../src/read/stored-entry.js';
import { IssuerCert } from '../../src/read/issuer-cache.js';
import { createReader } from '../../src/read/index.js';
import { LeafCheck } from '../../src/sequencer/leaf-check.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { EntryRecord, ShardRecord } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import { hex } from '../../src/util/bytes.js';
import { badRequest, type CtError } from '../../src/util/errors.js';
import { LEAF_REBUILDERS, RootStore, leafOf, precertTbsV1, type LeafRebuilders, type PrecertTbsFn } from '../../src/x509/index.js';
import { shardConfig } from '../read/fill-log.js';
import { BACKENDS, freshDb, testWitness, writeKey, type TestDb } from '../helpers/services.js';
import { ISSUERS, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

/**
 * "The precert code made stricter": a version 2 that refuses precertificates with a
 * subjectAltName (which every synthetic one has), as a future policy change might refuse
 * some shape of precertificate that version 1 logged.
 */
const stricter: PrecertTbsFn = (precert, issuer, finalIssuer) => {
  if (precert.extensions.some((e) => e.oid === '2.5.29.17')) throw badRequest('stricter', 'version 2 refuses this precertificate');
  return precertTbsV1(precert, issuer, finalIssuer);
};
const STRICTER: LeafRebuilders = { current: 2, precert: new Map([[1, precertTbsV1], [2, stricter]]) };

/** What the read endpoints serve for an entry: get-entries leaf_input and extra_data, and its data-tile leaf. */
function served(e: EntryRecord, r?: LeafRebuilders): string {
  const issuers = new Map(ISSUERS.map((i) => [hex(i.fingerprint), new IssuerCert(hex(i.fingerprint), i.der)]));
  const rebuilt = rebuildEntry(e, issuers, r);
  return [rebuilt.leaf, extraData(e, rebuilt), tileLeaf(e, rebuilt)].map(hex).join('|');
}

for (const backend of BACKENDS) {
  describe(`leaf check on ${backend}`, () => {
    let db: TestDb;
    let shard: ShardRecord;
    let keyFile: string;
    const sequencers: ShardSequencer[] = [];
    const start = async (rebuilders?: LeafRebuilders) => {
      const s = new ShardSequencer(db.storage, (await db.storage.getShard('l'))!, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now, rebuilders });
      await s.start();
      sequencers.push(s);
      return s;
    };

    before(async () => {
      db = await freshDb(backend);
      keyFile = writeKey(db.dataDir);
      shard = await createShard(db.storage, 'l', loadSigner(keyFile), Date.now());
    });
    after(async () => {
      for (const s of sequencers) await s.stop();
      await db.drop();
    });

    test('an entry whose row would not rebuild to the signed leaf is refused alone; the rest of its batch is logged', async () => {
      const seq = await start();
      const good = [syntheticSubmission(1), syntheticSubmission(2)];
      // A precert whose TBS is not the one its DER rebuilds to (a CTFE that rebuilds differently).
      const badTbs = syntheticSubmission(3);
      if (badTbs.sub.entry.type !== 'precert') throw new Error('expected a precert');
      const tbs = badTbs.sub.entry.tbsCertificate.slice();
      tbs[tbs.length - 1]! ^= 1;
      badTbs.sub.entry = { ...badTbs.sub.entry, tbsCertificate: tbs };
      // An identity that is not its entry's (would make dedup answer for another leaf).
      const badId = syntheticSubmission(4);
      badId.sub.identity = good[0]!.sub.identity.slice().reverse();
      // A precert citing an issuer the log has never seen.
      const noIssuer = syntheticSubmission(5);
      noIssuer.sub.chain = [new Uint8Array(32)];
      const all = [good[0]!, badTbs, badId, noIssuer, good[1]!];
      const results = await Promise.allSettled(all.map((s) => seq.add([s.sub], s.issuers)));
      assert.equal(results[0]!.status, 'fulfilled');
      assert.equal(results[4]!.status, 'fulfilled');
      for (const i of [1, 2, 3]) {
        const r = results[i]!;
        assert.equal(r.status, 'rejected', `submission ${i} refused`);
        const e = (r as PromiseRejectedResult).reason as CtError;
        assert.equal(e.status, 503);
        assert.equal(e.reason, 'entry_not_reproducible');
      }
      assert.equal(await verifyWholeTree(db.storage, shard), 2, 'only the two good entries were logged');
    });

    test('after the precert code is made stricter, an old precert entry serves the same bytes; new entries get the new version', async () => {
      const before = (await db.storage.currentHead(shard.id)).treeSize;
      const seq1 = await start();
      const old = syntheticSubmission(7);
      const sct = await seq1.add([old.sub], old.issuers);
      await seq1.stop();
      const [row] = await db.storage.readEntries(shard.id, sct[0]!.idx, sct[0]!.idx + 1);
      assert.equal(row!.rebuild, LEAF_REBUILDERS.current, 'logged with the current version (1)');
      const bytesBefore = served(row!);

      // The code changes: version 2 is stricter and current. The old row still serves identically.
      const [again] = await db.storage.readEntries(shard.id, row!.idx, row!.idx + 1);
      assert.equal(served(again!, STRICTER), bytesBefore, 'identical leaf_input, extra_data and data-tile leaf');
      // Without the version it would not: the stricter code refuses this very precertificate.
      assert.throws(() => served({ ...again!, rebuild: 2 }, STRICTER), (e: CtError) => e.status === 500 && /version 2 refuses/.test(e.message));

      // A sequencer on the new code logs with version 2, and refuses what version 2 refuses.
      const seq2 = await start(STRICTER);
      const x509 = syntheticSubmission(8);
      const [r] = await seq2.add([x509.sub], x509.issuers);
      const [newRow] = await db.storage.readEntries(shard.id, r!.idx, r!.idx + 1);
      assert.equal(newRow!.rebuild, 2);
      await assert.rejects(seq2.add([syntheticSubmission(9).sub], syntheticSubmission(9).issuers), (e: CtError) => e.reason === 'entry_not_reproducible');
      assert.equal(await verifyWholeTree(db.storage, shard), before + 2);
      assert.equal(served(again!, STRICTER), bytesBefore, 'and still identical');

      // Over HTTP: a read server on the stricter code answers get-entries, get-entry-and-proof
      // and the data tile byte for byte as one on the code the entry was logged with.
      const idx = row!.idx;
      const size = (await db.storage.currentHead(shard.id)).treeSize;
      const paths = [`/ct/v1/get-entries?start=${idx}&end=${idx}`, `/ct/v1/get-entry-and-proof?leaf_index=${idx}&tree_size=${size}`, `/tile/data/000.p/${size}`];
      const [now, stricter] = await Promise.all([fetchAll(undefined, paths), fetchAll(STRICTER, paths)]);
      for (const [i, p] of paths.entries()) {
        assert.equal(now[i]!.status, 200, p);
        assert.equal(stricter[i]!.body, now[i]!.body, `${p}: identical bytes`);
      }
    });

    /** Runs a read server on `rebuilders` just for these requests; statuses and bodies (hex). */
    async function fetchAll(rebuilders: LeafRebuilders | undefined, paths: string[]): Promise<Array<{ status: number; body: string }>> {
      const rt = { config: shardConfig({ name: 'l', prefix: '/l' }), id: shard.id, logId: shard.logId, publicKey: shard.publicKey, roots: RootStore.fromCerts([]), origin: 'ct.example.org/l' };
      const reader = createReader({ storage: db.storage, shards: [rt], clock: Date.now, rebuilders });
      const server = createServer((req, res) => void reader.handle(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/l`;
        return await Promise.all(paths.map(async (p) => {
          const r = await fetch(base + p);
          return { status: r.status, body: Buffer.from(await r.arrayBuffer()).toString('hex') };
        }));
      } finally {
        reader.close();
        await new Promise((r) => server.close(r));
      }
    }

    test('a stored row with a rebuild version this code does not know is a 500 naming it, never a wrong leaf', async () => {
      const [row] = await db.storage.readEntries(shard.id, 0, 1);
      assert.throws(() => served({ ...row!, entryType: 1, rebuild: 9 }), (e: CtError) => e.status === 500 && /unknown rebuild version 9/.test(e.message));
    });

    test('the commit-time check takes a tree leaf hash unhashed only when it is the one leafHash() gave for that row', async () => {
      const subs = [0, 1, 2, 3].map((i) => syntheticSubmission(i).sub);
      const check = new LeafCheck(db.storage);
      check.learn(ISSUERS);
      const ts = Date.now();
      const rowsAt = (base: number): EntryRecord[] =>
        subs.map((sub, i) => ({ idx: base + i, leafHash: new Uint8Array(), identity: sub.identity, timestamp: ts, entryType: sub.entry.type === 'x509' ? 0 : 1, cert: sub.cert, chain: sub.chain, rebuild: check.version }));
      const attempt = async (base: number): Promise<{ chains: Awaited<ReturnType<LeafCheck['chains']>>; hashes: Uint8Array[] }> => {
        const chains = await check.chains(subs);
        for (const sub of subs) assert.equal(check.refusal(sub, chains), undefined);
        return { chains, hashes: subs.map((sub, i) => check.leafHash(sub, base + i, ts)) };
      };
      // The hashes leafHash() gave are the read path's leaves of the rows.
      let a = await attempt(0);
      assert.deepEqual(a.hashes.map(hex), rowsAt(0).map((r, i) => hex(leafOf(r, subs[i]!.entry).hash)));
      check.verify(rowsAt(0), a.hashes, a.chains);
      // Byte-equal copies are not the same objects: checked in full, and they pass.
      a = await attempt(0);
      check.verify(rowsAt(0), a.hashes.map((h) => h.slice()), a.chains);
      // Two leaves swapped: each is a hash leafHash() gave, but not for that row.
      a = await attempt(0);
      assert.throws(() => check.verify(rowsAt(0), [a.hashes[1]!, a.hashes[0]!, ...a.hashes.slice(2)], a.chains), /rebuilds to leaf hash/);
      // The rows placed elsewhere than the hashes were computed for.
      a = await attempt(0);
      assert.throws(() => check.verify(rowsAt(10), a.hashes, a.chains), /rebuilds to leaf hash/);
    });
  });
}
