// A shard's key as an RFC 7512 pkcs11: URI in shards.yaml: parsed and validated like every
// other field; the PIN and the module are refused inline, with where they go instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/config.js';
import { parsePkcs11Uri } from '../../src/config/pkcs11-uri.js';

const ctx = { file: 'shards.yaml', dataDir: '/var/lib/ctlog', checkFiles: false };
const shard = { name: 'x2027h1', not_after_start: '2027-01-01T00:00:00Z', not_after_limit: '2027-07-01T00:00:00Z' };

describe('pkcs11: URIs (RFC 7512)', () => {
  test('token, object, id (percent-encoded bytes) and the other token selectors', () => {
    const r = parsePkcs11Uri('pkcs11:token=ctlog%20log;object=2027h1;id=%01%a2;serial=42;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;type=private');
    assert.equal(r.token, 'ctlog log');
    assert.equal(r.object, '2027h1');
    assert.deepEqual(r.id, new Uint8Array([0x01, 0xa2]));
    assert.equal(r.serial, '42');
    assert.equal(r.manufacturer, 'SoftHSM project');
    assert.equal(r.model, 'SoftHSM v2');
    assert.equal(r.pinSource, undefined);
  });

  test('pin-source names a file (file: URI or absolute path)', () => {
    assert.equal(parsePkcs11Uri('pkcs11:token=t;object=k?pin-source=file:/etc/ctlog/pin').pinSource, '/etc/ctlog/pin');
    assert.equal(parsePkcs11Uri('pkcs11:token=t;object=k?pin-source=file:///etc/ctlog/pin').pinSource, '/etc/ctlog/pin');
    assert.equal(parsePkcs11Uri('pkcs11:token=t;id=%01?pin-source=/run/secrets/pin').pinSource, '/run/secrets/pin');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['the PIN inline', 'pkcs11:token=t;object=k?pin-value=1234', /pin-value: the PIN never goes in shards.yaml; put it in a file named by pin-source=file:\/path/],
    ['the module inline', 'pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so', /module-path: the module is not named in shards.yaml; set CTLOG_PKCS11_MODULE/],
    ['no token', 'pkcs11:object=k', /token= is required/],
    ['no object or id', 'pkcs11:token=t', /name the key with object= .* and\/or id=/],
    ['an unknown attribute', 'pkcs11:token=t;object=k;slot-id=3', /unsupported attribute "slot-id"/],
    ['an attribute twice', 'pkcs11:token=t;object=k;object=j', /attribute "object" given twice/],
    ['a bad percent-encoding', 'pkcs11:token=t;id=%zz', /id: "%zz" is not a percent-encoded byte/],
    ['type=secret-key', 'pkcs11:token=t;object=k;type=secret-key', /type=secret-key: a log key is a key pair/],
    ['a relative pin-source', 'pkcs11:token=t;object=k?pin-source=pin.txt', /pin-source: "pin.txt" must be an absolute file path/],
    ['not attribute=value', 'pkcs11:token', /"token" is not attribute=value/],
  ];
  for (const [name, uri, want] of bad) test(`refuses ${name}`, () => assert.throws(() => parsePkcs11Uri(uri), want));
});

describe('shards.yaml key: pkcs11:...', () => {
  test('a shard with a key in a token', () => {
    const c = parseConfig({ shards: [{ ...shard, key: 'pkcs11:token=ctlog;object=x2027h1' }] }, ctx);
    assert.equal(c.shards[0]!.pkcs11?.token, 'ctlog');
    assert.equal(c.shards[0]!.pkcs11?.object, 'x2027h1');
    assert.equal(c.shards[0]!.keyFile, 'pkcs11:token=ctlog;object=x2027h1', 'not resolved as a path under --data');
  });

  test('a file key has no pkcs11 field', () => {
    assert.equal(parseConfig({ shards: [shard] }, ctx).shards[0]!.pkcs11, undefined);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['an inline PIN', { shards: [{ ...shard, key: 'pkcs11:token=ctlog;object=k?pin-value=1234' }] }, /shards\[0\] \(x2027h1\)\.key: pin-value: the PIN never goes in shards.yaml/],
    ['no object', { shards: [{ ...shard, key: 'pkcs11:token=ctlog' }] }, /shards\[0\] \(x2027h1\)\.key: name the key with object=.*\(RFC 7512 URI like pkcs11:token=ctlog;object=x2027h1\)/],
    [
      'two shards with one token key',
      { defaults: { key: 'pkcs11:token=ctlog;object=k' }, shards: [shard, { ...shard, name: 'y', not_after_start: '2027-07-01T00:00:00Z', not_after_limit: '2028-01-01T00:00:00Z' }] },
      /duplicate key "pkcs11:token=ctlog;object=k"; each shard needs its own/,
    ],
  ];
  for (const [name, doc, want] of bad) {
    test(`refuses ${name}`, () => assert.throws(() => parseConfig(doc, ctx), (err: Error) => err instanceof ConfigError && want.test(err.message)));
  }

  test('with checkFiles, a pin-source file that does not exist is refused', () => {
    assert.throws(() => parseConfig({ shards: [{ ...shard, roots: '/', key: 'pkcs11:token=ctlog;object=k?pin-source=file:/nonexistent/pin' }] }, { ...ctx, checkFiles: true }), /pin-source \/nonexistent\/pin does not exist/);
  });
});
