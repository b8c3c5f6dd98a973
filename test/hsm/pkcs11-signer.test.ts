// The log key in a PKCS#11 token, on a real SoftHSM2 token in a temporary directory
// (test/helpers/softhsm.ts): key generation in the token, SCTs and STHs through the same
// checks as file keys (verifySct/verifySth) and through @noble/curves, signing concurrently on
// a pool of sessions, the start-up failures (wrong PIN, missing object, token or module), and
// the token going away mid-run: the signature fails, the next one reconnects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { p256 } from '@noble/curves/nist.js';
import { parsePkcs11Uri } from '../../src/config/pkcs11-uri.js';
import { openShardSigner } from '../../src/config/key-file.js';
import { generatePkcs11Key, readPkcs11PublicKey } from '../../src/hsm/pkcs11-keygen.js';
import { openPkcs11Signer } from '../../src/hsm/pkcs11-signer.js';
import { binding, findObjects, findSlot, openModule, openSession, releaseModule, type Pkcs11 } from '../../src/hsm/pkcs11-token.js';
import { logIdFromSpki, verifySct, verifySth, type LogSigner } from '../../src/signing/index.js';
import { decodeDigitallySigned, encodeCtExtensions, sctSignatureInput, sthSignatureInput, type SignedEntry } from '../../src/tls/index.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';

let h: SoftHsm;
const uri = 'pkcs11:token=ctlog-test;object=log1';
const ref = parsePkcs11Uri(uri);
let spki: Uint8Array;

before(async () => {
  h = createSoftHsm();
  h.initToken('ctlog-test');
  spki = (await generatePkcs11Key(ref, h.env)).publicKeySpki;
});
after(() => h.remove());

const entry: SignedEntry = { type: 'x509', certificate: new Uint8Array([0x30, 0x03, 1, 2, 3]) };
const rawPoint = (k: Uint8Array) => k.subarray(k.byteLength - 65);

/** The token's sessions of this process, closed behind the signer's back (what a token reset or removal does). */
async function closeAllSessions(): Promise<void> {
  const p = await openModule(h.module);
  try {
    p.C_CloseAllSessions(findSlot(p, ref));
  } finally {
    releaseModule(p);
  }
}

describe('PKCS#11 key on SoftHSM2', () => {
  test('keygen: the public key object is a P-256 key; shard create reads the same key back', async () => {
    assert.equal(spki.byteLength, 91);
    assert.deepEqual(await readPkcs11PublicKey(ref, h.env), spki);
  });

  test('keygen refuses to make a second key under a name that exists', async () => {
    await assert.rejects(generatePkcs11Key(ref, h.env), /already has a private key named by pkcs11:token=ctlog-test;object=log1; refusing/);
  });

  test('the private key is sensitive and not extractable', async () => {
    const b = await binding();
    const p = await openModule(h.module);
    const s = await openSession(p, findSlot(p, ref), ref, h.env);
    try {
      const [priv] = await findObjects(p, s, ref, 'private');
      const [sensitive, extractable, value] = [b.CKA_SENSITIVE, b.CKA_EXTRACTABLE, b.CKA_VALUE].map((type) => {
        try {
          return p.C_GetAttributeValue(s, priv!, [{ type }])[0]!.value as Buffer;
        } catch (err) {
          return err as Error;
        }
      });
      assert.equal((sensitive as Buffer)[0], 1);
      assert.equal((extractable as Buffer)[0], 0);
      assert.ok(value instanceof Error && /CKR_ATTRIBUTE_SENSITIVE/.test(value.message), `CKA_VALUE is not readable: ${String(value)}`);
    } finally {
      p.C_CloseSession(s);
      releaseModule(p);
    }
  });

  describe('signing', () => {
    let signer: LogSigner;
    before(async () => {
      signer = await openPkcs11Signer(ref, { env: h.env, sessions: 4 });
    });
    after(async () => signer.close?.());

    test('log id and public key come from the token\'s public key object', () => {
      assert.deepEqual(signer.publicKeySpki, spki);
      assert.deepEqual(signer.logId, logIdFromSpki(spki));
    });

    test('SCTs and STHs verify through the same checks as file keys, and with @noble/curves', async () => {
      const ext = encodeCtExtensions({ leafIndex: 7 });
      const sct = await signer.signSct(1_767_225_600_000, entry, ext);
      assert.equal(verifySct(spki, sct, entry), true);
      assert.equal(verifySct(spki, { ...sct, timestamp: sct.timestamp + 1 }, entry), false);
      const ds = decodeDigitallySigned(sct.signature);
      assert.equal(ds.hashAlgorithm, 4);
      assert.equal(ds.signatureAlgorithm, 3);
      assert.equal(p256.verify(ds.signature, sctSignatureInput(sct.timestamp, entry, ext), rawPoint(spki), { format: 'der', lowS: false }), true);
      const sth = { treeSize: 12345, timestamp: 1_767_225_600_001, rootHash: new Uint8Array(32).fill(9) };
      const sig = await signer.signSth(sth);
      assert.equal(verifySth(spki, sth, sig), true);
      assert.equal(p256.verify(decodeDigitallySigned(sig).signature, sthSignatureInput(sth), rawPoint(spki), { format: 'der', lowS: false }), true);
    });

    test('1000 signatures asked for at once (more than the pool has sessions) all verify', async () => {
      const sths = Array.from({ length: 1000 }, (_, i) => ({ treeSize: i, timestamp: 1_767_225_600_000 + i, rootHash: new Uint8Array(32).fill(i & 0xff) }));
      const sigs = await Promise.all(sths.map((s) => signer.signSth(s)));
      sths.forEach((s, i) => assert.equal(verifySth(spki, s, sigs[i]!), true, `STH ${i}`));
      // DER lengths vary (70-72 bytes) with r and s: the raw→DER conversion sees both cases.
      assert.ok(new Set(sigs.map((s) => decodeDigitallySigned(s).signature.byteLength)).size > 1);
    });

    test('the token going away mid-run: the signature in flight fails; the next reconnects and verifies', async () => {
      const sth = { treeSize: 1, timestamp: 1, rootHash: new Uint8Array(32) };
      await signer.signSth(sth); // sessions open and logged in
      await closeAllSessions();
      await assert.rejects(signer.signSth(sth), /CKR_SESSION_HANDLE_INVALID|CKR_SESSION_CLOSED|CKR_USER_NOT_LOGGED_IN/);
      const again = await Promise.all(Array.from({ length: 8 }, () => signer.signSth(sth)));
      for (const s of again) assert.equal(verifySth(spki, sth, s), true);
    });
  });

  describe('start-up failures stop with a clear message', () => {
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['a wrong PIN', () => openPkcs11Signer(ref, { env: { ...h.env, CTLOG_PKCS11_PIN_FILE: undefined, CTLOG_PKCS11_PIN: '999999' } }), /token "ctlog-test" refused the PIN from CTLOG_PKCS11_PIN \(CKR_PIN_INCORRECT\)/],
      ['a missing object', () => openPkcs11Signer(parsePkcs11Uri('pkcs11:token=ctlog-test;object=nope'), { env: h.env }), /token "ctlog-test" has no private key with object=nope; create the key pair with `ctlog keygen --pkcs11 'pkcs11:token=ctlog-test;object=nope'`/],
      ['a missing id', () => openPkcs11Signer(parsePkcs11Uri('pkcs11:token=ctlog-test;object=log1;id=%ff'), { env: h.env }), /has no private key with object=log1;id=%ff/],
      ['a missing token', () => openPkcs11Signer(parsePkcs11Uri('pkcs11:token=nope;object=log1'), { env: h.env }), /no token labelled "nope" \(the module has "ctlog-test"\)/],
      ['no module', () => openPkcs11Signer(ref, { env: { ...h.env, CTLOG_PKCS11_MODULE: undefined } }), /CTLOG_PKCS11_MODULE is not set/],
      ['a module that is not there', () => openPkcs11Signer(ref, { env: { ...h.env, CTLOG_PKCS11_MODULE: '/nonexistent/libpkcs11.so' } }), /couldn't load the PKCS#11 module \/nonexistent\/libpkcs11.so/],
      ['no PIN', () => openPkcs11Signer(ref, { env: { CTLOG_PKCS11_MODULE: h.module } }), /no PIN for pkcs11:token=ctlog-test;object=log1: add pin-source=file:/],
      ['a PIN file that is not there', () => openPkcs11Signer(parsePkcs11Uri(`${uri}?pin-source=file:/nonexistent/pin`), { env: h.env }), /couldn't read the PIN file \/nonexistent\/pin/],
    ];
    for (const [name, open, want] of cases) test(name, () => assert.rejects(open(), want));

    test('through openShardSigner the message names the shard and the URI', async () => {
      await assert.rejects(openShardSigner({ name: '2027h1', keyFile: 'pkcs11:token=ctlog-test;object=nope', pkcs11: parsePkcs11Uri('pkcs11:token=ctlog-test;object=nope') }, { env: h.env }), (err: Error) => {
        assert.equal(err.name, 'Pkcs11SetupError');
        assert.match(err.message, /^shard 2027h1: PKCS#11 key pkcs11:token=ctlog-test;object=nope: token "ctlog-test" has no private key/);
        return true;
      });
    });

    test('the PIN from the URI\'s pin-source file', async () => {
      const s = await openPkcs11Signer(parsePkcs11Uri(`${uri}?pin-source=file:${h.pinFile}`), { env: { CTLOG_PKCS11_MODULE: h.module } });
      await s.close?.();
    });
  });

  test('after a reconnect, a different key under the same name is refused (never signs for the wrong log)', async () => {
    const other = parsePkcs11Uri('pkcs11:token=ctlog-test;object=swap');
    await generatePkcs11Key(other, h.env);
    const signer = await openPkcs11Signer(other, { env: h.env, sessions: 2 });
    try {
      const sth = { treeSize: 1, timestamp: 1, rootHash: new Uint8Array(32) };
      // Replace the pair behind the signer's back, then break its sessions.
      const p: Pkcs11 = await openModule(h.module);
      const s = await openSession(p, findSlot(p, other), other, h.env, true);
      for (const cls of ['private', 'public'] as const) for (const o of await findObjects(p, s, other, cls)) p.C_DestroyObject(s, o);
      p.C_CloseSession(s);
      releaseModule(p);
      await generatePkcs11Key(other, h.env);
      await closeAllSessions();
      await assert.rejects(signer.signSth(sth));
      await assert.rejects(signer.signSth(sth), /now holds a different key under pkcs11:token=ctlog-test;object=swap than at start; refusing to sign with it/);
    } finally {
      await signer.close?.();
    }
  });
});
