// The sequencer signing with a key in a SoftHSM2 token, on SQLite and on MariaDB: every SCT
// and STH verifies with the token's public key through the checks file keys pass (verifySct,
// verifyWholeTree), and the token going away mid-run fails the batch with 503 and is
// retried: an entry committed before the failure gets its SCT on the retry, never a second
// entry, and no entry that got an SCT is lost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parsePkcs11Uri } from '../../src/config/pkcs11-uri.js';
import { generatePkcs11Key } from '../../src/hsm/pkcs11-keygen.js';
import { openPkcs11Signer } from '../../src/hsm/pkcs11-signer.js';
import { findSlot, openModule, releaseModule } from '../../src/hsm/pkcs11-token.js';
import type { Sequenced } from '../../src/queue/submission.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import { verifySct, type LogSigner } from '../../src/signing/index.js';
import { createShard } from '../../src/storage/shard-init.js';
import type { ShardRecord } from '../../src/storage/log-storage.js';
import type { CtError } from '../../src/util/errors.js';
import { BACKENDS, freshDb, testWitness, type TestDb } from '../helpers/services.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

let h: SoftHsm;
const ref = parsePkcs11Uri('pkcs11:token=ctlog-seq;object=shard');
let tokenSpki: Uint8Array;

before(async () => {
  h = createSoftHsm();
  h.initToken('ctlog-seq');
  tokenSpki = (await generatePkcs11Key(ref, h.env)).publicKeySpki;
});
after(() => h.remove());

async function closeAllSessions(): Promise<void> {
  const p = await openModule(h.module);
  try {
    p.C_CloseAllSessions(findSlot(p, ref));
  } finally {
    releaseModule(p);
  }
}

let n = 0;
for (const backend of BACKENDS) {
  describe(`sequencer with a PKCS#11 key on ${backend}`, { concurrency: false }, () => {
    let db: TestDb;
    let signer: LogSigner;
    let shard: ShardRecord;
    let seq: ShardSequencer;
    /** Set by a test: the token's sessions are closed right after the batch's STH is signed, before its SCTs. */
    let breakAfterSth = false;

    before(async () => {
      db = await freshDb(backend);
      signer = await openPkcs11Signer(ref, { env: h.env, sessions: 4 });
      const afterSth: LogSigner = {
        ...signer,
        async signSth(sth) {
          const sig = await signer.signSth(sth);
          if (breakAfterSth) {
            breakAfterSth = false;
            await closeAllSessions();
          }
          return sig;
        },
      };
      shard = await createShard(db.storage, 'hsm', signer, Date.now());
      seq = new ShardSequencer(db.storage, shard, afterSth, { witness: testWitness(db.dataDir, shard), poolSize: 200, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
      await seq.start();
    });
    after(async () => {
      await seq?.stop();
      await signer?.close?.();
      await db?.drop();
    });

    const sctOk = (r: Sequenced, sub: ReturnType<typeof syntheticSubmission>['sub']) =>
      verifySct(shard.publicKey, { version: 0, logId: shard.logId, timestamp: r.timestamp, extensions: r.extensions, signature: r.signature }, sub.entry);

    test("the shard's log id and public key are the token's", () => {
      assert.equal(Buffer.from(shard.publicKey).toString('hex'), Buffer.from(tokenSpki).toString('hex'));
      assert.equal(Buffer.from(shard.logId).toString('hex'), Buffer.from(signer.logId).toString('hex'));
    });

    test('batches sign and commit; every SCT and STH verifies with the token key', async () => {
      for (const size of [1, 5, 200, 37]) {
        const subs = Array.from({ length: size }, () => syntheticSubmission(n++));
        const results = await Promise.all(subs.map((s) => seq.add([s.sub], s.issuers).then((r) => r[0]!)));
        results.forEach((r, i) => assert.ok(sctOk(r, subs[i]!.sub), `SCT ${i} of a batch of ${size}`));
      }
      assert.equal(await verifyWholeTree(db.storage, shard), 243);
    });

    test('the token going away before the commit: the batch gets 503, nothing is committed, the retry logs it', async () => {
      const before = (await db.storage.currentHead(shard.id)).treeSize;
      await closeAllSessions();
      const subs = Array.from({ length: 10 }, () => syntheticSubmission(n++));
      const failed = await Promise.allSettled(subs.map((s) => seq.add([s.sub], s.issuers)));
      for (const f of failed) {
        assert.equal(f.status, 'rejected');
        assert.equal(((f as PromiseRejectedResult).reason as CtError).status, 503);
        assert.equal(((f as PromiseRejectedResult).reason as CtError).reason, 'signing_failed');
      }
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, before, 'the STH could not be signed: nothing committed');
      const retried = await Promise.all(subs.map((s) => seq.add([s.sub], s.issuers).then((r) => r[0]!)));
      retried.forEach((r, i) => assert.ok(sctOk(r, subs[i]!.sub)));
      assert.equal(await verifyWholeTree(db.storage, shard), before + 10);
    });

    test('the token going away after the commit: the batch gets 503; its entries stay logged and the retry gets their SCTs', async () => {
      const before = (await db.storage.currentHead(shard.id)).treeSize;
      const subs = Array.from({ length: 25 }, () => syntheticSubmission(n++));
      breakAfterSth = true;
      const failed = await Promise.allSettled(subs.map((s) => seq.add([s.sub], s.issuers)));
      assert.ok(failed.every((f) => f.status === 'rejected' && (f.reason as CtError).reason === 'signing_failed'), 'no SCT went out');
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, before + 25, 'the batch was committed before its SCTs failed');
      const retried = await Promise.all(subs.map((s) => seq.add([s.sub], s.issuers).then((r) => r[0]!)));
      const idx = retried.map((r) => r.idx).sort((a, b) => a - b);
      assert.deepEqual(idx, Array.from({ length: 25 }, (_, i) => before + i), 'each retry finds its committed entry');
      retried.forEach((r, i) => assert.ok(sctOk(r, subs[i]!.sub)));
      assert.equal(await verifyWholeTree(db.storage, shard), before + 25, 'no second entry for any of them');
    });
  });
}
