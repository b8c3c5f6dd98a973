// `ctlog keygen --pkcs11 URI`: a new P-256 key pair generated inside the token. The private
// key is a token object that is sensitive and not extractable: it can sign and nothing else,
// and no one (ctlog included) can read it out. Refuses if the URI already names a key.
import { randomBytes } from 'node:crypto';
import type { Pkcs11KeyRef } from '../config/pkcs11-uri.js';
import { binding, findObjects, findSlot, openModule, openSession, P256_EC_PARAMS, Pkcs11SetupError, publicKeySpki, releaseModule, type Pkcs11Env } from './pkcs11-token.js';

export interface GeneratedTokenKey {
  publicKeySpki: Uint8Array;
  /** CKA_ID given to both objects (the URI's id=, or 16 random bytes). */
  id: Uint8Array;
}

export async function generatePkcs11Key(ref: Pkcs11KeyRef, env: Pkcs11Env = process.env as Pkcs11Env): Promise<GeneratedTokenKey> {
  const b = await binding();
  const p = await openModule(env.CTLOG_PKCS11_MODULE);
  try {
    const slot = findSlot(p, ref);
    const session = await openSession(p, slot, ref, env, true);
    try {
      for (const cls of ['private', 'public'] as const) {
        if ((await findObjects(p, session, ref, cls)).length) {
          throw new Pkcs11SetupError(`token "${ref.token}" already has a ${cls} key named by ${ref.uri}; refusing to make another (a lost or ambiguous key ends a log)`);
        }
      }
      const id = ref.id ?? new Uint8Array(randomBytes(16));
      const label = ref.object ?? `ctlog-${Buffer.from(id).toString('hex')}`;
      const common = [
        { type: b.CKA_TOKEN, value: true },
        { type: b.CKA_LABEL, value: label },
        { type: b.CKA_ID, value: Buffer.from(id) },
      ];
      const pair = p.C_GenerateKeyPair(
        session,
        { mechanism: b.CKM_EC_KEY_PAIR_GEN },
        [...common, { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY }, { type: b.CKA_KEY_TYPE, value: b.CKK_EC }, { type: b.CKA_EC_PARAMS, value: P256_EC_PARAMS }, { type: b.CKA_VERIFY, value: true }, { type: b.CKA_PRIVATE, value: false }],
        [
          ...common,
          { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
          { type: b.CKA_KEY_TYPE, value: b.CKK_EC },
          { type: b.CKA_SIGN, value: true },
          { type: b.CKA_PRIVATE, value: true },
          { type: b.CKA_SENSITIVE, value: true },
          { type: b.CKA_EXTRACTABLE, value: false },
        ],
      );
      return { publicKeySpki: await publicKeySpki(p, session, pair.publicKey, ref), id };
    } finally {
      try {
        p.C_CloseSession(session);
      } catch {
        // Nothing to release if the token went away.
      }
    }
  } catch (err) {
    if (err instanceof Pkcs11SetupError) throw err;
    throw new Pkcs11SetupError(`token "${ref.token}": couldn't generate the key pair: ${(err as Error).message}`, { cause: err });
  } finally {
    releaseModule(p);
  }
}

/** The public key of an existing key pair in the token (what `ctlog shard create` records). */
export async function readPkcs11PublicKey(ref: Pkcs11KeyRef, env: Pkcs11Env = process.env as Pkcs11Env): Promise<Uint8Array> {
  const { findKey } = await import('./pkcs11-token.js');
  const p = await openModule(env.CTLOG_PKCS11_MODULE);
  try {
    const session = await openSession(p, findSlot(p, ref), ref, env);
    try {
      return await publicKeySpki(p, session, await findKey(p, session, ref, 'public'), ref);
    } finally {
      p.C_CloseSession(session);
    }
  } finally {
    releaseModule(p);
  }
}
