// "No SCT that only one machine holds" (issue 8), on MariaDB servers this test starts itself
// (test/helpers/mariadb-server.ts): a semi-synchronous primary (AFTER_SYNC) and its
// replicas, each with its own datadir and port.
//  - An SCT goes out only for a commit a replica acknowledged; while none does, 503 + Retry-After.
//  - Failover under load: kill -9 of the primary, `promote` of a replica (the other replica
//    re-pointed at it), the sequencer restarted on it: every SCT ever returned has its entry at
//    its index and timestamp, the fork guard accepts the promoted replica, every STH is
//    consistent with every other.
//  - The negative: with asynchronous replication and a lagging replica, the same failover
//    makes promote refuse and the fork guard stop the sequencer: no fork.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promoteReplica } from '../../src/cli/promote-replica.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { createReader } from '../../src/read/index.js';
import { RootStore } from '../../src/x509/index.js';
import { parseConfig, type LogConfig } from '../../src/config/config.js';
import { loadSigner } from '../../src/config/key-file.js';
import { leafHash } from '../../src/merkle/index.js';
import type { Sequenced, Submission } from '../../src/queue/submission.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { LogSigner } from '../../src/signing/index.js';
import { ensureMysqlDatabase, migrate, openDatabase } from '../../src/storage/database.js';
import { HeadWitness } from '../../src/storage/head-witness.js';
import { LogStorage, type ShardRecord } from '../../src/storage/log-storage.js';
import { ReplicationConfigError, semiSyncAck } from '../../src/storage/replication.js';
import { createShard } from '../../src/storage/shard-init.js';
import { encodeMerkleTreeLeaf } from '../../src/tls/index.js';
import type { CtError } from '../../src/util/errors.js';
import { replicatedSet, type MariaDbServer } from '../helpers/mariadb-server.js';
import { MYSQL_BASE, writeKey } from '../helpers/services.js';
import { ISSUERS, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

const DB = 'ctlog';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;

interface Host {
  dir: string;
  signer: LogSigner;
  config: LogConfig;
}

function sequencerHost(): Host {
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-seqhost-'));
  const keyFile = writeKey(dir, 'repl');
  const config = parseConfig(
    { shards: [{ name: 'repl', not_after_start: '2000-01-01T00:00:00Z', not_after_limit: '2100-01-01T00:00:00Z', key: keyFile, roots: '/dev/null' }] },
    { file: 'test', dataDir: dir },
  );
  return { dir, signer: loadSigner(keyFile), config };
}

async function openLog(server: MariaDbServer): Promise<LogStorage> {
  await ensureMysqlDatabase(server.url(DB));
  const storage = new LogStorage(openDatabase({ url: server.url(DB), dataDir: '/tmp' }));
  await migrate(storage.knex);
  return storage;
}

async function sequencerOn(storage: LogStorage, host: Host, shard: ShardRecord, ack: boolean): Promise<ShardSequencer> {
  const seq = new ShardSequencer(storage, shard, host.signer, {
    witness: new HeadWitness(host.config.shards[0]!.witnessFile, shard),
    replicaAck: ack ? await semiSyncAck(storage.knex) : undefined,
    poolSize: 200,
    poolPeriodMs: 5,
    sthIntervalMs: 60_000,
    clock: Date.now,
  });
  await seq.start();
  return seq;
}

/** Every returned SCT's entry is in `storage` at its index and timestamp, and is its leaf. */
async function assertAllIncluded(storage: LogStorage, shard: ShardRecord, answered: Array<{ sub: Submission; r: Sequenced }>): Promise<void> {
  for (const { sub, r } of answered) {
    const [e] = await storage.readEntries(shard.id, r.idx, r.idx + 1);
    assert.ok(e, `entry ${r.idx} of a returned SCT exists`);
    assert.equal(e.timestamp, r.timestamp, `entry ${r.idx} has the SCT's timestamp`);
    const leaf = leafHash(encodeMerkleTreeLeaf({ timestamp: r.timestamp, entry: sub.entry, extensions: r.extensions }));
    assert.deepEqual(Buffer.from(e.leafHash), Buffer.from(leaf), `entry ${r.idx} is the SCT's leaf`);
  }
}

test('require_replica_ack on a server that is not a semi-synchronous primary stops at start, naming the settings', async () => {
  const knex = openDatabase({ url: `${MYSQL_BASE}/mysql`, dataDir: '/tmp' });
  try {
    await assert.rejects(semiSyncAck(knex), (e: Error) => e instanceof ReplicationConfigError && /rpl_semi_sync_master_enabled is OFF|binary log is off/.test(e.message) && /docs\/OPERATIONS.md/.test(e.message));
  } finally {
    await knex.destroy();
  }
});

describe('semi-synchronous acknowledgement', () => {
  let set: Awaited<ReturnType<typeof replicatedSet>>;
  let storage: LogStorage;
  let host: Host;
  let shard: ShardRecord;
  before(async () => {
    set = await replicatedSet(1, 500);
    storage = await openLog(set.primary);
    host = sequencerHost();
    shard = await createShard(storage, 'repl', host.signer, Date.now());
  });
  after(async () => {
    await storage?.knex.destroy();
    await set?.close();
  });

  test('SCTs only while a replica acknowledges; 503 + Retry-After while none does; back once it catches up', async () => {
    const seq = await sequencerOn(storage, host, shard, true);
    try {
      const first = Array.from({ length: 20 }, () => syntheticSubmission(n++).sub);
      const r1 = await seq.add(first, ISSUERS);
      assert.equal(r1.length, 20);

      // The replica stops acknowledging (its replication stopped): the next batch commits on
      // the primary after the ack timeout, and its submitters get no SCT.
      set.replicas[0]!.sql('STOP SLAVE');
      const lonely = Array.from({ length: 5 }, () => syntheticSubmission(n++).sub);
      await assert.rejects(seq.add(lonely, []), (e: CtError) => e.status === 503 && e.reason === 'no_replica_ack' && e.retryAfter === 5);
      // Duplicates of entries that only the primary holds get no SCT either.
      await assert.rejects(seq.add(lonely.slice(0, 2), []), (e: CtError) => e.reason === 'no_replica_ack');

      // The replica comes back and catches up: the same submissions now get their SCTs.
      set.replicas[0]!.sql('START SLAVE');
      await set.primary.waitForReplicas(1);
      let again: Sequenced[] | undefined;
      for (let i = 0; i < 50 && !again; i++) {
        again = await seq.add(lonely, []).catch(() => undefined);
        if (!again) await sleep(200);
      }
      assert.ok(again, 'SCTs once the replica acknowledges again');
      assert.ok(again.every((r) => r.duplicate), 'the entries committed while no replica acknowledged are the ones answered');
      assert.equal(await verifyWholeTree(storage, shard), 25);
    } finally {
      await seq.stop();
    }
  });
});

describe('a read server on a replica', () => {
  let set: Awaited<ReturnType<typeof replicatedSet>>;
  let storage: LogStorage;
  let onReplica: LogStorage;
  let host: Host;
  let shard: ShardRecord;
  before(async () => {
    set = await replicatedSet(1, 2000);
    storage = await openLog(set.primary);
    host = sequencerHost();
    shard = await createShard(storage, 'repl', host.signer, Date.now());
    onReplica = new LogStorage(openDatabase({ url: set.replicas[0]!.url(DB), dataDir: '/tmp' }));
  });
  after(async () => {
    await onReplica?.knex.destroy();
    await storage?.knex.destroy();
    await set?.close();
  });

  test('serves only what its replica holds: retryable 503s beyond it, never a smaller tree, and the rest once it catches up', async () => {
    const seq = await sequencerOn(storage, host, shard, true);
    const rt: ShardRuntime = { config: host.config.shards[0]!, id: shard.id, logId: shard.logId, publicKey: shard.publicKey, roots: RootStore.fromCerts([]), origin: 'test/repl' };
    const reader = createReader({ storage: onReplica, shards: [rt], clock: Date.now, headTtlMs: 0 });
    const server = createServer((req, res) => void reader.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${rt.config.prefix}/ct/v1`;
    const sthSize = async () => {
      const body = (await (await fetch(`${base}/get-sth`)).json()) as { tree_size?: number; error?: string };
      if (body.tree_size === undefined) throw new Error(`get-sth: ${JSON.stringify(body)}`);
      return body.tree_size;
    };
    const until = async (size: number) => {
      // The replica may not have applied the shard's creation yet either.
      for (let i = 0; i < 150 && (await sthSize().catch(() => -1)) < size; i++) await sleep(100);
      assert.equal(await sthSize(), size);
    };
    try {
      await seq.add(Array.from({ length: 10 }, () => syntheticSubmission(n++).sub), ISSUERS);
      await until(10);
      // The replica keeps receiving (and acknowledging) but stops applying: the log goes on
      // and this read server's database stays at 10 entries.
      set.replicas[0]!.sql('STOP SLAVE SQL_THREAD');
      const later = Array.from({ length: 10 }, () => syntheticSubmission(n++).sub);
      const answered = await seq.add(later, []);
      assert.equal(answered.length, 10, 'SCTs: the replica received the batch');
      assert.equal(await sthSize(), 10, 'an STH of what the replica holds, not of the log');
      for (const path of ['/get-entries?start=10&end=14', '/get-sth-consistency?first=10&second=20', `/get-proof-by-hash?tree_size=20&hash=${encodeURIComponent(Buffer.alloc(32, 7).toString('base64'))}`]) {
        const r = await fetch(base + path);
        assert.equal(r.status, 503, `${path}: ${await r.text()}`);
        assert.equal(r.headers.get('retry-after'), '1', path);
      }
      set.replicas[0]!.sql('START SLAVE SQL_THREAD');
      await until(20);
      const page = (await (await fetch(`${base}/get-entries?start=10&end=19`)).json()) as { entries: unknown[] };
      assert.equal(page.entries.length, 10, 'the entries, once the replica applied them');
    } finally {
      reader.close();
      await new Promise((r) => server.close(r));
      await seq.stop();
    }
  });
});

describe('failover: kill -9 of the primary under load, promote a replica', () => {
  let set: Awaited<ReturnType<typeof replicatedSet>>;
  let host: Host;
  before(async () => {
    set = await replicatedSet(2, 2000);
    host = sequencerHost();
  });
  after(async () => set?.close());

  test('every SCT returned before and after is on the promoted replica; the fork guard accepts it; STHs stay consistent', { timeout: 180_000 }, async () => {
    const primary = await openLog(set.primary);
    const shard = await createShard(primary, 'repl', host.signer, Date.now());
    let seq = await sequencerOn(primary, host, shard, true);
    const answered: Array<{ sub: Submission; r: Sequenced }> = [];
    let failures = 0;
    let stop = false;
    const submitters = Array.from({ length: 8 }, async () => {
      const retry: Submission[] = [];
      while (!stop) {
        const subs = retry.length ? retry.splice(0) : Array.from({ length: 5 }, () => syntheticSubmission(n++).sub);
        try {
          const rs = await seq.add(subs, ISSUERS);
          subs.forEach((sub, i) => answered.push({ sub, r: rs[i]! }));
        } catch {
          failures++;
          retry.push(...subs); // a CA retries what got no SCT
          await sleep(100);
        }
      }
    });
    await sleep(2000);
    const before = answered.length;
    await set.primary.kill();
    await sleep(500);
    const old = seq;
    await old.stop().catch(() => {});
    await primary.knex.destroy();

    // Promote replica 1, unless replica 2 received more (promote refuses then, naming it).
    let [chosen, other] = set.replicas as [MariaDbServer, MariaDbServer];
    const lines: string[] = [];
    const promote = () => promoteReplica({ replicaUrl: chosen.url(DB), otherReplicas: [other.url(DB)], config: host.config, dataDir: host.dir, force: false, progress: (l) => lines.push(l) });
    await promote().catch(async (err: Error) => {
      assert.match(err.message, /has received transactions that .* has not .*promote it instead/);
      [chosen, other] = [other, chosen];
      await promote();
    });
    assert.ok(lines.some((l) => /shard repl: .*(same head|consistent extension)/.test(l)), lines.join('\n'));
    await chosen.waitForReplicas(1);

    const promoted = new LogStorage(openDatabase({ url: chosen.url(DB), dataDir: '/tmp' }));
    try {
      seq = await sequencerOn(promoted, host, (await promoted.getShard('repl'))!, true);
      await sleep(2000);
      stop = true;
      await Promise.all(submitters);
      await seq.stop();

      assert.ok(before > 50, `SCTs before the failover (${before})`);
      assert.ok(answered.length > before, `SCTs after the failover (${answered.length - before})`);
      await assertAllIncluded(promoted, shard, answered);
      const size = await verifyWholeTree(promoted, shard); // every stored STH consistent with the one before
      const idents = new Set((await promoted.readEntries(shard.id, 0, size)).map((e) => Buffer.from(e.identity).toString('hex')));
      assert.equal(idents.size, size, 'no identity is logged twice');
      console.log(`# failover: ${before} SCTs before, ${answered.length - before} after, ${failures} failed batches retried, tree size ${size}`);
    } finally {
      await promoted.knex.destroy();
    }
  });
});

describe('the negative: asynchronous replication, a lagging replica', () => {
  let set: Awaited<ReturnType<typeof replicatedSet>>;
  let host: Host;
  before(async () => {
    set = await replicatedSet(1, 500);
    host = sequencerHost();
  });
  after(async () => set?.close());

  test('the same failover makes promote refuse and the fork guard stop the sequencer; nothing forks', { timeout: 120_000 }, async () => {
    set.primary.sql('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
    const primary = await openLog(set.primary);
    const shard = await createShard(primary, 'repl', host.signer, Date.now());
    const seq = await sequencerOn(primary, host, shard, false);
    await seq.add(Array.from({ length: 10 }, () => syntheticSubmission(n++).sub), ISSUERS);
    // The replica falls behind (its replication stops), the primary goes on publishing.
    await sleep(1000);
    set.replicas[0]!.sql('STOP SLAVE');
    await seq.add(Array.from({ length: 10 }, () => syntheticSubmission(n++).sub), ISSUERS);
    await seq.stop();
    await primary.knex.destroy();
    await set.primary.kill();

    const url = set.replicas[0]!.url(DB);
    set.replicas[0]!.sql('START SLAVE SQL_THREAD');
    await assert.rejects(
      promoteReplica({ replicaUrl: url, otherReplicas: [], config: host.config, dataDir: host.dir, force: false, progress: () => {} }),
      /not promoted: this replica lacks tree heads the log published[\s\S]*size 10, .* is behind the published head .*size 20/,
    );
    await promoteReplica({ replicaUrl: url, otherReplicas: [], config: host.config, dataDir: host.dir, force: true, progress: () => {} });
    const promoted = new LogStorage(openDatabase({ url, dataDir: '/tmp' }));
    try {
      const rec = (await promoted.getShard('repl'))!;
      await assert.rejects(sequencerOn(promoted, host, rec, false), /fork guard: shard repl: the database's tree head \(size 10, .*\) is behind the published head .*\(size 20, /);
      assert.equal((await promoted.currentHead(rec.id)).treeSize, 10, 'nothing was signed on the lagging replica');
    } finally {
      await promoted.knex.destroy();
    }
  });
});

test('after a restart of the primary, no SCT is released until a replica is known to hold every earlier commit (the probe row)', { timeout: 180_000 }, async () => {
  const set = await replicatedSet(1, 500);
  let storage: LogStorage | undefined;
  try {
    const { primary } = set;
    const replica = set.replicas[0]!;
    // The replica reconnects within a second of the restart, not the default 60 s.
    replica.sql('STOP SLAVE; CHANGE MASTER TO MASTER_CONNECT_RETRY=1; START SLAVE;');
    await primary.waitForReplicas(1);
    storage = await openLog(primary);
    const ack = await semiSyncAck(storage.knex);
    // Connection errors right after a restart are their own 503 (replica_unknown): ask again.
    const confirm = async (): Promise<CtError | undefined> => {
      for (;;) {
        try {
          await ack.confirm();
          return undefined;
        } catch (err) {
          if ((err as CtError).reason !== 'replica_unknown') return err as CtError;
          await sleep(200);
        }
      }
    };
    assert.equal(await confirm(), undefined, 'at start: the probe row is written and acknowledged');
    const probeAt = async () => {
      await replica.stopReceiving();
      const at = Number(replica.sql(`SELECT at FROM ${DB}.replication_probe WHERE id = 1`).trim());
      replica.sql('START SLAVE;');
      return at;
    };
    const before = await probeAt();
    assert.ok(before > 0, 'the probe reached the replica');
    // A restart is told by Uptime, in whole seconds: let the server be up a few first.
    await sleep(4000);
    await primary.stop();
    await primary.start();
    // MariaDB's semi-sync counters start afresh and its status reads ON: not trusted.
    const first = await confirm();
    assert.equal(first?.reason, 'no_replica_ack');
    assert.match(first!.message, /restarted/);
    let last: CtError | undefined = first;
    for (let i = 0; i < 100 && last; i++) {
      await sleep(300);
      last = await confirm();
    }
    assert.equal(last, undefined, `back once the replica acknowledged the probe: ${last?.message}`);
    assert.ok((await probeAt()) > before, 'the probe was written again after the restart and the replica holds it');
  } finally {
    await storage?.knex.destroy();
    await set.close();
  }
});
