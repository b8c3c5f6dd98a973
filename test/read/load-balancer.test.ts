// Several read servers behind one load balancer (issue 8; certificate-transparency#139): each
// read server is monotonic on its own, but two of them may hold different tree sizes at the
// same instant (their replicas lag differently). docs/OPERATIONS.md "Read servers on replicas"
// routes each client to one read server by its address, as the k8s Ingress does
// (upstream-hash-by $remote_addr). Here a real nginx with `hash $remote_addr consistent` in
// front of two read servers at different tree sizes: a client's get-sth never goes backwards,
// where plain round robin in front of the same two servers shows it going backwards.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createReader, type Reader } from '../../src/read/index.js';
import { freePort } from '../e2e/processes.js';
import { freshDb, type TestDb } from '../helpers/services.js';
import { fillLog, type TestLog } from './fill-log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ReadServer {
  db: TestDb;
  log: TestLog;
  reader: Reader;
  server: Server;
  port: number;
}

async function readServer(batches: number[]): Promise<ReadServer> {
  const db = await freshDb('mysql');
  const log = await fillLog(db.storage, batches);
  const reader = createReader({ storage: db.open(), shards: [log.rt], clock: () => Date.now() });
  const server = createServer((req, res) => void reader.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { db, log, reader, server, port: (server.address() as AddressInfo).port };
}

/** get-sth through a connection of its own (a load balancer picks anew for each): tree_size. */
function treeSize(port: number, prefix: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: `${prefix}/ct/v1/get-sth`, agent: false, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(text) as { tree_size: number }).tree_size) : reject(new Error(`${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

let ahead: ReadServer;
let behind: ReadServer;
let dir: string;
let nginx: ChildProcess | undefined;
let hashed: number;
let roundRobin: number;

before(async () => {
  if (spawnSync('nginx', ['-v']).error) throw new Error('nginx is not installed; run test/ensure-services.sh, or apt-get install nginx-light');
  ahead = await readServer([300, 200]);
  behind = await readServer([300]);
  dir = mkdtempSync(join(tmpdir(), 'ctlog-nginx-'));
  for (const d of ['logs', 'tmp']) mkdirSync(join(dir, d));
  [hashed, roundRobin] = [await freePort(), await freePort()];
  const upstream = `server 127.0.0.1:${ahead.port}; server 127.0.0.1:${behind.port};`;
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'tmp')};
  proxy_temp_path ${join(dir, 'tmp')};
  fastcgi_temp_path ${join(dir, 'tmp')};
  uwsgi_temp_path ${join(dir, 'tmp')};
  scgi_temp_path ${join(dir, 'tmp')};
  upstream by_client { hash $remote_addr consistent; ${upstream} }
  upstream round_robin { ${upstream} }
  server { listen 127.0.0.1:${hashed}; location / { proxy_pass http://by_client; } }
  server { listen 127.0.0.1:${roundRobin}; location / { proxy_pass http://round_robin; } }
}
`,
  );
  nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  nginx.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  for (let i = 0; ; i++) {
    try {
      await treeSize(hashed, ahead.log.rt.config.prefix);
      break;
    } catch {
      if (i > 100 || nginx.exitCode !== null) throw new Error(`nginx did not start: ${err}`);
      await sleep(100);
    }
  }
});

after(async () => {
  nginx?.kill('SIGTERM');
  for (const s of [ahead, behind]) {
    if (!s) continue;
    s.reader.close();
    await new Promise((r) => s.server.close(r));
    await s.log.stop();
    await s.db.drop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a client routed by its address to one read server never sees tree_size go backwards; round robin does', async () => {
  const prefix = ahead.log.rt.config.prefix;
  const [big, small] = [await treeSize(ahead.port, prefix), await treeSize(behind.port, prefix)];
  assert.ok(big > small, `the two read servers hold different tree sizes (${big}, ${small})`);

  const pinned: number[] = [];
  for (let i = 0; i < 30; i++) pinned.push(await treeSize(hashed, prefix));
  for (let i = 1; i < pinned.length; i++) assert.ok(pinned[i]! >= pinned[i - 1]!, `by client address: ${pinned.join(' ')}`);
  assert.equal(new Set(pinned).size, 1, 'one client, one read server');

  const alternating: number[] = [];
  for (let i = 0; i < 30; i++) alternating.push(await treeSize(roundRobin, prefix));
  assert.ok(
    alternating.some((s, i) => i > 0 && s < alternating[i - 1]!),
    `without affinity the same client sees the tree shrink (what the routing prevents): ${alternating.join(' ')}`,
  );
});
