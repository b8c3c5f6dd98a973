import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  checkpointBody,
  encodeDigitallySigned,
  noteKeyId,
  parseRfc6962NoteSignature,
  parseSignedCheckpoint,
  rfc6962NoteSignature,
  signedCheckpoint,
  TlsError,
} from '../../src/tls/index.js';
import { fromHex, hex } from '../../src/util/bytes.js';

const origin = 'navigli2025h2.skylight.geomys.org';
const logId = new Uint8Array(Buffer.from('5Pt3SiEkxYZAsYMvUKv63ISjiu1xke62aSI3ksv2KJE=', 'base64'));
const root = new Uint8Array(Buffer.from('EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=', 'base64'));
const ths = encodeDigitallySigned({ hashAlgorithm: 4, signatureAlgorithm: 3, signature: new Uint8Array(70).fill(0x5a) });

describe('checkpoint (C2SP tlog-checkpoint + static-ct-api RFC 6962 note signature)', () => {
  test('noteKeyId is SHA-256(origin || 0x0A || 0x05 || logID)[:4]', () => {
    const buf = Buffer.concat([Buffer.from(origin, 'utf8'), Buffer.from([0x0a, 0x05]), Buffer.from(logId)]);
    const want = createHash('sha256').update(buf).digest().subarray(0, 4).toString('hex');
    assert.equal(hex(noteKeyId(origin, logId)), want);
  });

  test('body is origin, decimal size, base64 root', () => {
    assert.equal(checkpointBody(origin, 1024, root), `${origin}\n1024\nEMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=\n`);
  });

  test('RFC6962NoteSignature is uint64 timestamp || DigitallySigned', () => {
    const ts = 2 ** 41 + 3;
    const sig = rfc6962NoteSignature(ts, ths);
    assert.equal(hex(sig.subarray(0, 8)), '0000020000000003');
    assert.deepEqual(sig.subarray(8), ths);
    assert.deepEqual(parseRfc6962NoteSignature(sig), { timestamp: ts, treeHeadSignature: ths });
    assert.throws(() => parseRfc6962NoteSignature(new Uint8Array([...sig, 0])), /RFC6962NoteSignature: 1 trailing bytes/);
  });

  test('signed checkpoint round trip', () => {
    const text = signedCheckpoint(origin, 1024, root, 1_750_000_000_123, ths, logId);
    const lines = text.split('\n');
    assert.deepEqual(lines.slice(0, 4), [origin, '1024', 'EMfGG85uIddeOXt5/wdQGP3IQd0COCqoLg9Q6CsPLJA=', '']);
    assert.ok(lines[4]!.startsWith(`\u2014 ${origin} `));
    assert.equal(lines[5], '');
    const p = parseSignedCheckpoint(text);
    assert.equal(p.origin, origin);
    assert.equal(p.treeSize, 1024);
    assert.deepEqual(p.rootHash, root);
    assert.equal(p.signatures.length, 1);
    assert.equal(p.signatures[0]!.name, origin);
    assert.deepEqual(p.signatures[0]!.keyId, noteKeyId(origin, logId));
    assert.deepEqual(parseRfc6962NoteSignature(p.signatures[0]!.signature), { timestamp: 1_750_000_000_123, treeHeadSignature: ths });
  });

  test('other signature lines (witnesses) are kept', () => {
    const text = signedCheckpoint(origin, 5, root, 1, ths, logId) + `\u2014 witness.example ${Buffer.from('0102030405', 'hex').toString('base64')}\n`;
    const p = parseSignedCheckpoint(text);
    assert.deepEqual(p.signatures.map((s) => s.name), [origin, 'witness.example']);
    assert.deepEqual(p.signatures[1]!.keyId, fromHex('01020304'));
  });

  const good = signedCheckpoint(origin, 1024, root, 1, ths, logId);
  const [, , , , sigLine] = good.split('\n');
  const body = (lines: string[]) => `${lines.join('\n')}\n\n${sigLine}\n`;
  const rejects: Array<[string, string, RegExp]> = [
    ['no blank line', good.replace('\n\n', '\n'), /checkpoint: no blank line/],
    ['an extension line', body([origin, '1024', b64root(), 'ext']), /checkpoint.extensions: 1 extension lines/],
    ['two body lines', body([origin, '1024']), /checkpoint: body has 2 lines, want 3/],
    ['a leading zero in the size', body([origin, '01024', b64root()]), /checkpoint.size: not a decimal/],
    ['a negative size', body([origin, '-1', b64root()]), /checkpoint.size/],
    ['a size beyond 2^53-1', body([origin, '9007199254740993', b64root()]), /checkpoint.size: 9007199254740993 exceeds/],
    ['a root of 31 bytes', body([origin, '1', Buffer.alloc(31).toString('base64')]), /checkpoint.root: not base64 of 32 bytes/],
    ['an origin with a space', body(['a b', '1', b64root()]), /checkpoint.origin: invalid key name/],
    ['no signature lines', `${origin}\n1\n${b64root()}\n\n`, /checkpoint.signatures: no signature lines/],
    ['a missing final newline', good.slice(0, -1), /checkpoint.signatures: last line does not end in a newline/],
    ['a hyphen instead of an em dash', good.replace('\u2014', '-'), /checkpoint.signatures\[0\]: does not start with "— "/],
    ['a signature that is not base64', good.replace(/ [A-Za-z0-9+/=]+\n$/, ' @@@@\n'), /checkpoint.signatures\[0\]: signature is not base64/],
    ['a signature of 4 bytes', body([origin, '1', b64root()]).replace(/ [A-Za-z0-9+/=]+\n$/, ' AQIDBA==\n'), /signature of 4 bytes is too short/],
  ];
  function b64root() {
    return Buffer.from(root).toString('base64');
  }
  for (const [name, text, want] of rejects) {
    test(`rejects ${name}`, () => assert.throws(() => parseSignedCheckpoint(text), (e: unknown) => e instanceof TlsError && want.test(e.message)));
  }

  test('encoders reject bad origins, sizes and roots', () => {
    assert.throws(() => checkpointBody('a+b', 1, root), /checkpoint.origin: invalid key name "a\+b"/);
    assert.throws(() => checkpointBody(origin, -1, root), /checkpoint.size/);
    assert.throws(() => checkpointBody(origin, 1, root.subarray(1)), /checkpoint.root: length 31, want 32/);
    assert.throws(() => noteKeyId(origin, logId.subarray(1)), /noteKeyId.logId/);
  });
});
