// A read server on a replica (issue 8): it never serves a smaller tree than it already
// served, and never an STH whose entries it cannot serve. Here its database moves behind a
// head it served (what pointing it at a replica further behind, or a failover, does): every
// read answers 503 + Retry-After instead of an older STH or missing data, and it serves
// again, from the same head on, once the database has caught up.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createReader, type Reader } from '../../src/read/index.js';
import { ShardReader } from '../../src/read/shard-reader.js';
import type { TreeHead } from '../../src/storage/log-storage.js';
import { freshDb, type TestDb } from '../helpers/services.js';
import { fillLog, type TestLog } from './fill-log.js';

let db: TestDb;
let log: TestLog;
let reader: Reader;
let server: Server;
let base: string;

before(async () => {
  db = await freshDb('mysql');
  log = await fillLog(db.storage, [300, 200]);
  reader = createReader({ storage: db.open(), shards: [log.rt], clock: () => Date.now(), headTtlMs: 0 });
  server = createServer((req, res) => void reader.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${log.rt.config.prefix}`;
});
after(async () => {
  reader?.close();
  await new Promise((r) => server?.close(r));
  await log?.stop();
  await db?.drop();
});

const setHead = (h: TreeHead) =>
  db.storage.knex('shards').where({ id: log.shard.id }).update({ tree_size: h.treeSize, root_hash: Buffer.from(h.rootHash), sth_timestamp: h.timestamp, sth_signature: Buffer.from(h.signature) });

test('a database behind the head already served: 503 + Retry-After everywhere, never an older STH; back once it catches up', async () => {
  const now = await db.storage.currentHead(log.shard.id);
  const sth = (await (await fetch(`${base}/ct/v1/get-sth`)).json()) as { tree_size: number };
  assert.equal(sth.tree_size, now.treeSize);
  const older = (await db.storage.treeHeads(log.shard.id)).find((h) => h.treeSize > 0 && h.treeSize < now.treeSize)!;
  await setHead(older);
  for (const path of ['/ct/v1/get-sth', '/checkpoint', '/ct/v1/get-entries?start=0&end=0', `/ct/v1/get-sth-consistency?first=1&second=${now.treeSize}`]) {
    const r = await fetch(base + path);
    assert.equal(r.status, 503, `${path}: ${await r.text()}`);
    assert.equal(r.headers.get('retry-after'), '1', path);
  }
  const body = (await (await fetch(`${base}/ct/v1/get-sth`)).json()) as { error: string };
  assert.match(body.error, new RegExp(`holds ${older.treeSize} entries .* fewer than the tree head of size ${now.treeSize} it already served; retry`));
  assert.deepEqual(reader.behind(), [{ shard: log.rt.config.name, treeSize: older.treeSize }], 'reported for /readyz');
  assert.deepEqual(await reader.recheckBehind(), [{ shard: log.rt.config.name, treeSize: older.treeSize }], 'still behind');
  await setHead(now);
  // Taken out of rotation it gets no requests: the readiness probe's recheck brings it back.
  assert.deepEqual(await reader.recheckBehind(), []);
  const again = (await (await fetch(`${base}/ct/v1/get-sth`)).json()) as { tree_size: number };
  assert.equal(again.tree_size, now.treeSize);
  assert.deepEqual(reader.behind(), []);
});

test('a worker group: once one worker serves a head, the others serve no smaller one (src/bin/workers.ts)', async () => {
  const now = await db.storage.currentHead(log.shard.id);
  const older = (await db.storage.treeHeads(log.shard.id)).find((h) => h.treeSize > 0 && h.treeSize < now.treeSize)!;
  const opts = { headTtlMs: 60_000, tileCacheBytes: 1 << 20, clock: () => Date.now() };
  try {
    await setHead(older);
    const b = new ShardReader(log.rt, db.storage, opts);
    assert.equal((await b.head()).treeSize, older.treeSize);
    await setHead(now);
    assert.equal((await b.head()).treeSize, older.treeSize, 'alone, a worker reuses its cached head for the TTL');
    const announced: number[] = [];
    const a = new ShardReader(log.rt, db.storage, {
      ...opts,
      announce: async (size) => {
        announced.push(size);
        b.raiseFloor(size);
      },
    });
    assert.equal((await a.head(true)).treeSize, now.treeSize);
    assert.deepEqual(announced, [now.treeSize], 'announced before it is served');
    assert.equal((await b.head()).treeSize, now.treeSize, 'the other worker reads again instead of serving its smaller cached head');
    await a.head(true);
    assert.deepEqual(announced, [now.treeSize], 'once per new size');
  } finally {
    await setHead(now);
  }
});
