// Redis and MariaDB connection URLs in their usual forms (src/queue/redis-url.ts,
// src/storage/mysql-url.ts): TLS, ACL users, and errors that name what is wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { redisOptions } from '../../src/queue/redis-url.js';
import { mysqlConnection } from '../../src/storage/mysql-url.js';

const dir = mkdtempSync(join(tmpdir(), 'ctlog-urls-'));
const pem = (name: string) => {
  const p = join(dir, name);
  writeFileSync(p, `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`);
  return p;
};
const ca = pem('ca.pem');
const cert = pem('client.pem');
const key = pem('client-key.pem');

describe('redis URLs', () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['plain, defaults', 'redis://127.0.0.1', { host: '127.0.0.1', port: 6379, db: 0, username: undefined, password: undefined, tls: undefined }],
    ['password only (the default user)', 'redis://:s3cret@redis.internal:6380/2', { host: 'redis.internal', port: 6380, db: 2, username: undefined, password: 's3cret' }],
    ['ACL user and password, percent-encoded', 'redis://ctlog:p%40ss%2Fw@redis.internal', { username: 'ctlog', password: 'p@ss/w' }],
    ['TLS: the host name is the SNI name, system CAs', 'rediss://ctlog:pw@redis.example.com:6380', { host: 'redis.example.com', port: 6380, username: 'ctlog', tls: { servername: 'redis.example.com' } }],
    ['TLS to an address: no SNI', 'rediss://127.0.0.1:6380', { host: '127.0.0.1', tls: {} }],
    ['TLS to an IPv6 address', 'rediss://[::1]:6380', { host: '::1', tls: {} }],
  ];
  for (const [name, url, want] of cases) {
    test(name, () => {
      const got = redisOptions(url) as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k], v, k);
    });
  }

  test('TLS with a private CA and a client certificate, in redis-py parameter names', () => {
    const o = redisOptions(`rediss://ctlog:pw@redis.internal:6380/0?ssl_ca_certs=${ca}&ssl_certfile=${cert}&ssl_keyfile=${key}`);
    const tls = o.tls as { ca: Buffer; cert: Buffer; key: Buffer; servername: string };
    assert.match(tls.ca.toString(), /ca\.pem/);
    assert.match(tls.cert.toString(), /client\.pem/);
    assert.match(tls.key.toString(), /client-key\.pem/);
    assert.equal(tls.servername, 'redis.internal');
  });

  const bad: Array<[string, RegExp]> = [
    ['http://127.0.0.1', /must start with redis:\/\/ or rediss:\/\//],
    ['not a url', /not a URL/],
    ['redis://127.0.0.1/x', /database after \/ must be a number/],
    [`redis://127.0.0.1?ssl_ca_certs=${ca}`, /ssl_ca_certs needs rediss:\/\//],
    ['rediss://127.0.0.1?tls=1', /unknown parameter tls/],
    [`rediss://127.0.0.1?ssl_certfile=${cert}`, /ssl_certfile and ssl_keyfile go together/],
    [`rediss://127.0.0.1?ssl_ca_certs=${join(dir, 'missing.pem')}`, /couldn't read ssl_ca_certs=/],
  ];
  for (const [url, re] of bad) test(`refused: ${url.replace(dir, '…')}`, () => assert.throws(() => redisOptions(url), re));
});

describe('MariaDB URLs', () => {
  const base = 'mysql://ctlog:pw@db.internal:3307/ctlog';
  test('plain: no TLS', () => {
    const c = mysqlConnection(base);
    assert.equal(c.host, 'db.internal');
    assert.equal(c.port, 3307);
    assert.equal(c.user, 'ctlog');
    assert.equal(c.password, 'pw');
    assert.equal(c.database, 'ctlog');
    assert.equal(c.ssl, undefined);
  });
  const cases: Array<[string, Record<string, unknown> | undefined]> = [
    ['?ssl=true', { rejectUnauthorized: true, verifyIdentity: true }],
    ['?ssl=false', undefined],
    ['?ssl-mode=DISABLED', undefined],
    ['?ssl-mode=REQUIRED', { rejectUnauthorized: false, verifyIdentity: false }],
    ['?ssl-mode=verify_ca', { rejectUnauthorized: true, verifyIdentity: false }],
    ['?ssl-mode=VERIFY_IDENTITY', { rejectUnauthorized: true, verifyIdentity: true }],
    [`?ssl-ca=${ca}`, { rejectUnauthorized: true, verifyIdentity: true }],
    [`?ssl-mode=VERIFY_CA&ssl-ca=${ca}&ssl-cert=${cert}&ssl-key=${key}`, { rejectUnauthorized: true, verifyIdentity: false }],
    [`?ssl=${encodeURIComponent('{"rejectUnauthorized":false}')}`, { rejectUnauthorized: false, verifyIdentity: false }],
    [`?ssl=${encodeURIComponent('{"ciphers":"ECDHE-ECDSA-AES128-GCM-SHA256"}')}`, { rejectUnauthorized: true, verifyIdentity: true, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }],
  ];
  for (const [q, want] of cases) {
    test(`${q.replace(dir, '…')}`, () => {
      const ssl = mysqlConnection(base + q).ssl as Record<string, unknown> | undefined;
      if (want === undefined) return assert.equal(ssl, undefined);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(ssl![k], v, k);
      if (q.includes('ssl-ca')) assert.match(String(ssl!.ca), /ca\.pem/);
      if (q.includes('ssl-cert')) assert.match(String(ssl!.cert), /client\.pem/);
    });
  }
  const bad: Array<[string, RegExp]> = [
    ['postgres://x/db', /must start with mysql:\/\//],
    ['mysql://127.0.0.1/', /must name a database/],
    [`${base}?sslmode=require`, /unknown parameter sslmode/],
    [`${base}?ssl-mode=PREFERRED`, /must be one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY/],
    [`${base}?ssl=maybe`, /ssl must be true, false, or a JSON object/],
    [`${base}?ssl=true&ssl-mode=REQUIRED`, /ssl or ssl-mode, not both/],
    [`${base}?ssl-cert=${cert}`, /ssl-cert and ssl-key go together/],
    [`${base}?ssl-mode=DISABLED&ssl-ca=${ca}`, /with TLS disabled/],
    [`${base}?ssl-ca=${join(dir, 'missing.pem')}`, /couldn't read ssl-ca=/],
  ];
  for (const [url, re] of bad) test(`refused: ${url.replace(dir, '…')}`, () => assert.throws(() => mysqlConnection(url), re));
});
