// shards.yaml validation: the repository's file is valid, and every bad field stops the
// process with a message naming the field (docs/STYLE.md habit 5). One row per mistake.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/config.js';

const REPO = join(import.meta.dirname, '../..');
const ctx = { file: 'shards.yaml', dataDir: '/var/lib/ctlog', checkFiles: false };
const shard = { name: 'x2027h1', not_after_start: '2027-01-01T00:00:00Z', not_after_limit: '2027-07-01T00:00:00Z' };

describe('shards.yaml', () => {
  test("the repository's shards.yaml is valid: half-year shards from 2026h2 to 2028h2", () => {
    const c = loadConfig(join(REPO, 'shards.yaml'), '/tmp/ctlog-data');
    assert.deepEqual(c.shards.map((s) => s.name), ['2026h2', '2027h1', '2027h2', '2028h1', '2028h2']);
    for (let i = 1; i < c.shards.length; i++) assert.equal(c.shards[i]!.notAfterStart, c.shards[i - 1]!.notAfterLimit, 'windows are contiguous');
    assert.equal(c.shards[0]!.keyFile, '/tmp/ctlog-data/keys/2026h2.pem', 'keys live under --data');
    assert.equal(c.shards[0]!.getEntriesMax, 256);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.shards[0]));
  });

  test('defaults apply and per-shard fields override them', () => {
    const c = parseConfig({ defaults: { pool_size: 50 }, shards: [shard, { ...shard, name: 'y', prefix: '/y', pool_size: 7, not_after_start: '2027-07-01T00:00:00Z', not_after_limit: '2028-01-01T00:00:00Z' }] }, ctx);
    assert.equal(c.shards[0]!.poolSize, 50);
    assert.equal(c.shards[1]!.poolSize, 7);
    assert.equal(c.shards[0]!.prefix, '/x2027h1');
    assert.equal(c.rateLimit, undefined);
    assert.deepEqual(c.trustedProxies, []);
    assert.equal(c.admission.oldNotBeforeMs, 48 * 3_600_000);
    assert.equal(c.admission.lowPriority, undefined);
    assert.deepEqual(c.http, { maxConnections: 10000, headersTimeoutMs: 20000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 65000 });
    assert.equal(c.requireReplicaAck, false);
    assert.equal(c.verifyEverySct, false, 'one full verify per queue message unless asked');
    assert.equal(parseConfig({ log: { verify_every_sct: true }, shards: [shard] }, ctx).verifyEverySct, true);
  });

  const bad: Array<{ scenario: string; doc: unknown; message: RegExp }> = [
    { scenario: 'not a mapping', doc: [1, 2], message: /\(top level\): must be a mapping/ },
    { scenario: 'unknown top-level field', doc: { shard: [] }, message: /shard: unknown top-level field/ },
    { scenario: 'no shards', doc: { shards: [] }, message: /shards: must be a non-empty list/ },
    { scenario: 'bad name', doc: { shards: [{ ...shard, name: 'Big Shard' }] }, message: /\.name: "Big Shard" must be/ },
    { scenario: 'bad prefix', doc: { shards: [{ ...shard, prefix: 'x/' }] }, message: /\.prefix: "x\/" must be a URL path/ },
    { scenario: 'date not RFC 3339', doc: { shards: [{ ...shard, not_after_start: '1 Jan 2027' }] }, message: /not_after_start: must be an RFC 3339 UTC time/ },
    { scenario: 'window backwards', doc: { shards: [{ ...shard, not_after_limit: '2026-01-01T00:00:00Z' }] }, message: /not_after_limit: must be after not_after_start/ },
    { scenario: 'pool_size zero', doc: { shards: [{ ...shard, pool_size: 0 }] }, message: /pool_size: must be an integer in \[1, 10000\]/ },
    { scenario: 'get_entries_max as a string', doc: { shards: [{ ...shard, get_entries_max: '256' }] }, message: /get_entries_max: must be an integer/ },
    { scenario: 'unknown state', doc: { shards: [{ ...shard, state: 'paused' }] }, message: /state: "paused" must be active, read-only or frozen/ },
    { scenario: 'boolean as a string', doc: { shards: [{ ...shard, reject_expired: 'yes' }] }, message: /reject_expired: must be true or false/ },
    { scenario: 'unknown shard field', doc: { shards: [{ ...shard, poolsize: 3 }] }, message: /\.poolsize: unknown field/ },
    { scenario: 'unknown default field', doc: { defaults: { mdd: 1 }, shards: [shard] }, message: /defaults\.mdd: unknown field/ },
    { scenario: 'duplicate names', doc: { shards: [shard, { ...shard, prefix: '/other' }] }, message: /duplicate name "x2027h1"/ },
    { scenario: 'duplicate prefixes', doc: { shards: [shard, { ...shard, name: 'other', prefix: '/x2027h1' }] }, message: /duplicate prefix "\/x2027h1"/ },
    {
      scenario: 'overlapping windows of two active shards',
      doc: { shards: [shard, { ...shard, name: 'y2027', prefix: '/y2027', not_after_start: '2027-06-01T00:00:00Z', not_after_limit: '2028-01-01T00:00:00Z' }] },
      message: /shards \(x2027h1, y2027\): active shards x2027h1 \[2027-01-01T00:00:00Z, 2027-07-01T00:00:00Z\) and y2027 \[2027-06-01T00:00:00Z, 2028-01-01T00:00:00Z\) overlap from 2027-06-01T00:00:00Z to 2027-07-01T00:00:00Z; make the windows adjacent/,
    },
    { scenario: 'base_url not http', doc: { log: { base_url: 'ftp://x' }, shards: [shard] }, message: /log\.base_url: "ftp:\/\/x" is not an http\(s\) URL/ },
    { scenario: 'unknown log field', doc: { log: { baseurl: 'x' }, shards: [shard] }, message: /log\.baseurl: unknown field/ },
    { scenario: 'trust_forwarded_for is gone', doc: { log: { trust_forwarded_for: true }, shards: [shard] }, message: /log\.trust_forwarded_for: replaced by log\.trusted_proxies/ },
    { scenario: 'trusted proxy not a CIDR', doc: { log: { trusted_proxies: ['10.0.0.0/40'] }, shards: [shard] }, message: /log\.trusted_proxies: "10\.0\.0\.0\/40" is not an address or CIDR/ },
    { scenario: 'trusted proxies not a list', doc: { log: { trusted_proxies: '10.0.0.0/8' }, shards: [shard] }, message: /log\.trusted_proxies: must be a list/ },
    { scenario: 'unknown admission field', doc: { log: { admission: { shed_lag: 5 } }, shards: [shard] }, message: /log\.admission\.shed_lag: unknown field/ },
    { scenario: 'old_not_before_hours zero', doc: { log: { admission: { old_not_before_hours: 0 } }, shards: [shard] }, message: /log\.admission\.old_not_before_hours: must be an integer/ },
    { scenario: 'issuer quota burst below one', doc: { log: { admission: { issuer_quota: { per_second: 0.1 } } }, shards: [shard] }, message: /log\.admission\.issuer_quota\.burst: must be at least 1/ },
    { scenario: 'headers timeout above request timeout', doc: { log: { http: { headers_timeout_ms: 40000 } }, shards: [shard] }, message: /log\.http\.headers_timeout_ms: must not exceed request_timeout_ms/ },
    { scenario: 'max_connections zero', doc: { log: { http: { max_connections: 0 } }, shards: [shard] }, message: /log\.http\.max_connections: must be an integer/ },
    { scenario: 'verify_every_sct not a boolean', doc: { log: { verify_every_sct: 'yes' }, shards: [shard] }, message: /log\.verify_every_sct: must be true or false/ },
    { scenario: 'require_replica_ack not a boolean', doc: { log: { require_replica_ack: 1 }, shards: [shard] }, message: /log\.require_replica_ack: must be true or false/ },
    { scenario: 'rate limit not positive', doc: { log: { rate_limit: { per_second: 0 } }, shards: [shard] }, message: /log\.rate_limit\.per_second: must be a positive number/ },
    { scenario: 'rate limit burst below one request', doc: { log: { rate_limit: { per_second: 0.5 } }, shards: [shard] }, message: /log\.rate_limit\.burst: must be at least 1/ },
    { scenario: 'two shards share a key (same log id)', doc: { defaults: { key: 'keys/log.pem' }, shards: [shard, { ...shard, name: 'y', prefix: '/y' }] }, message: /duplicate key "\/var\/lib\/ctlog\/keys\/log\.pem"/ },
    { scenario: 'prefix hides an operator endpoint', doc: { shards: [{ ...shard, name: 'metrics' }] }, message: /\.prefix: "\/metrics" is an operator endpoint/ },
    { scenario: 'roots missing on disk', doc: { shards: [{ ...shard, roots: '/nonexistent/roots.pem' }] }, message: /roots: \/nonexistent\/roots\.pem does not exist/ },
  ];
  for (const b of bad) {
    test(`rejected: ${b.scenario}`, () => {
      assert.throws(() => parseConfig(b.doc, { ...ctx, checkFiles: true }), (err: Error) => {
        assert.ok(err instanceof ConfigError, `a ConfigError, got ${err.name}`);
        assert.match(err.message, /^shards\.yaml: /, 'names the file');
        assert.match(err.message, b.message);
        return true;
      });
    });
  }

  test('a shard that no longer accepts may share its window with its replacement', () => {
    const c = parseConfig({ shards: [{ ...shard, state: 'read-only' }, { ...shard, name: 'x2027h1b', prefix: '/x2027h1b' }] }, ctx);
    assert.deepEqual(c.shards.map((s) => s.state), ['read-only', 'active']);
  });

  test('the k8s base shards.yaml parses too', () => {
    const doc = parse(readFileSync(join(REPO, 'k8s/base/shards.yaml'), 'utf8'));
    assert.ok(parseConfig(doc, ctx).shards.length > 0);
  });
});
