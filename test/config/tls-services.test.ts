// Redis over TLS with an ACL user, and MariaDB over TLS, for real: this test generates a
// private CA and a server certificate (openssl), starts its own redis-server (--tls-port,
// default user off, one ACL user) and its own mariadbd (--ssl-*, a fresh datadir), runs the
// queue and the storage through them with the URL forms of the README, and stops them.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { BullSubmissionConsumer, BullSubmissionQueue } from '../../src/queue/bullmq-queue.js';
import { redisOptions } from '../../src/queue/redis-url.js';
import { migrate, openDatabase } from '../../src/storage/database.js';
import { LogStorage } from '../../src/storage/log-storage.js';
import { syntheticSubmission } from '../helpers/synthetic.js';

const dir = mkdtempSync(join(tmpdir(), 'ctlog-tls-'));
const f = (name: string) => join(dir, name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function makeCerts(): void {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ctlog test CA');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  // Another CA, which did not issue the server's certificate.
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=another CA');
  chmodSync(f('server.key'), 0o644); // mariadbd runs as mysql
}

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} did not come up within ${ms} ms`);
}

describe('TLS to Redis (ACL user) and to MariaDB, for real', () => {
  const children: ChildProcess[] = [];
  let redisPort: number;
  let mysqlPort: number;
  const password = randomBytes(12).toString('hex');

  before(async () => {
    makeCerts();
    redisPort = await freePort();
    mysqlPort = await freePort();
    const redis = spawn('redis-server', [
      '--port', '0', '--bind', '127.0.0.1', '--tls-port', String(redisPort),
      '--tls-cert-file', f('server.pem'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('ca.pem'), '--tls-auth-clients', 'no',
      '--save', '', '--appendonly', 'no', '--dir', dir,
      // No anonymous access: the default user is off, ctlog is an ACL user with a password.
      '--user', 'default', 'off', '--user', 'ctlog', 'on', `>${password}`, '~*', '&*', '+@all',
    ], { stdio: 'ignore' });
    children.push(redis);

    // mariadbd refuses to run as root: as root, the datadir goes to the mysql user.
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'mysql', dir]);
    // A private tmpdir: install-db runs from other tests at once collide on /tmp's temp tables.
    mkdirSync(f('tmp'));
    if (process.getuid?.() === 0) execFileSync('chown', ['mysql', f('tmp')]);
    execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${f('db')}`, `--tmpdir=${f('tmp')}`, '--user=mysql', '--skip-test-db', '--auth-root-authentication-method=normal'], { stdio: 'pipe' });
    const mysql = spawn('mariadbd', [
      '--no-defaults', `--datadir=${f('db')}`, `--port=${mysqlPort}`, '--bind-address=127.0.0.1', `--socket=${f('mysqld.sock')}`, '--user=mysql',
      '--skip-grant-tables', '--skip-log-bin', '--innodb-buffer-pool-size=16M', `--tmpdir=${f('tmp')}`,
      `--ssl-ca=${f('ca.pem')}`, `--ssl-cert=${f('server.pem')}`, `--ssl-key=${f('server.key')}`,
    ], { stdio: 'ignore' });
    children.push(mysql);

    await until('redis-server', async () => {
      const r = new Redis({ ...redisOptions(`rediss://ctlog:${password}@127.0.0.1:${redisPort}?ssl_ca_certs=${f('ca.pem')}`), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
    await until('mariadbd', async () => {
      const k = openDatabase({ url: `mysql://root@127.0.0.1:${mysqlPort}/mysql?ssl-ca=${f('ca.pem')}`, dataDir: dir });
      try {
        await k.raw('SELECT 1');
        return true;
      } finally {
        await k.destroy();
      }
    }, 60_000);
  });

  after(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  });

  test('the queue runs over rediss:// with an ACL user: a submission goes there and back', async () => {
    const url = `rediss://ctlog:${password}@localhost:${redisPort}/0?ssl_ca_certs=${f('ca.pem')}`;
    const queueKey = new Uint8Array(randomBytes(32));
    const consumer = new BullSubmissionConsumer({ redisUrl: url, queueKey, prefix: 'tls' });
    const queue = new BullSubmissionQueue({ redisUrl: url, queueKey, prefix: 'tls', lingerMs: 1 });
    try {
      await consumer.consume('s', async (subs) => subs.map((sub, i) => ({ identity: sub.identity, idx: i, timestamp: 1, extensions: new Uint8Array(), signature: new Uint8Array([1]), duplicate: false, signedDigest: new Uint8Array(32) })));
      const s = syntheticSubmission(2);
      const r = await queue.submit('s', s.sub, s.issuers, 10_000);
      assert.equal(r.idx, 0);
      // The connection really is TLS, as the ACL user.
      const r2 = new Redis(redisOptions(url));
      try {
        assert.equal(await r2.call('ACL', 'WHOAMI'), 'ctlog');
      } finally {
        r2.disconnect();
      }
    } finally {
      await queue.close();
      await consumer.close();
    }
  });

  const refused: Array<[string, () => string, RegExp]> = [
    ['a wrong password', () => `rediss://ctlog:wrong@127.0.0.1:${redisPort}?ssl_ca_certs=${f('ca.pem')}`, /WRONGPASS|invalid username-password/],
    ['no user (the default user is off)', () => `rediss://127.0.0.1:${redisPort}?ssl_ca_certs=${f('ca.pem')}`, /NOAUTH|NOPERM|WRONGPASS|disabled/i],
    ['a CA that did not issue the server certificate', () => `rediss://ctlog:${password}@127.0.0.1:${redisPort}?ssl_ca_certs=${f('other.pem')}`, /self.signed|unable to verify|certificate/i],
    ['the system CAs (a private CA is not among them)', () => `rediss://ctlog:${password}@127.0.0.1:${redisPort}`, /self.signed|unable to verify|certificate/i],
  ];
  for (const [name, url, re] of refused) {
    test(`Redis refuses ${name}`, async () => {
      const r = new Redis({ ...redisOptions(url()), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // ioredis reports a TLS or AUTH failure on 'error' and rejects the command with "Connection is closed".
      const seen: string[] = [];
      r.on('error', (e: Error) => seen.push(e.message));
      try {
        await r.connect();
        await r.ping();
        assert.fail('connected and answered');
      } catch (err) {
        seen.push((err as Error).message);
      } finally {
        r.disconnect();
      }
      assert.match(seen.join(' | '), re);
    });
  }

  test('the storage runs over MariaDB TLS (ssl-ca, host name verified); a wrong CA or the system CAs are refused', async () => {
    const good = `mysql://root@localhost:${mysqlPort}/ctlog_tls?ssl-mode=VERIFY_IDENTITY&ssl-ca=${f('ca.pem')}`;
    const admin = openDatabase({ url: good.replace('/ctlog_tls?', '/mysql?'), dataDir: dir });
    await admin.raw('CREATE DATABASE IF NOT EXISTS ctlog_tls');
    await admin.destroy();
    const knex = openDatabase({ url: good, dataDir: dir });
    try {
      await migrate(knex);
      const storage = new LogStorage(knex);
      assert.deepEqual(await storage.listShards(), []);
      const [rows] = (await knex.raw("SHOW SESSION STATUS LIKE 'Ssl_version'")) as [Array<{ Value: string }>];
      assert.match(rows[0]!.Value, /^TLSv1\.[23]$/, 'the session is TLS');
    } finally {
      await knex.destroy();
    }
    for (const [url, re] of [
      [`mysql://root@127.0.0.1:${mysqlPort}/mysql?ssl-ca=${f('other.pem')}`, /self.signed|unable to verify|certificate/i],
      [`mysql://root@127.0.0.1:${mysqlPort}/mysql?ssl=true`, /self.signed|unable to verify|certificate/i],
    ] as const) {
      const k = openDatabase({ url, dataDir: dir });
      try {
        await assert.rejects(k.raw('SELECT 1'), re);
      } finally {
        await k.destroy();
      }
    }
  });
});
