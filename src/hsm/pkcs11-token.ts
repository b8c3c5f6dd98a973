// A PKCS#11 token that holds a log key: loading the vendor's module (once per process),
// finding the token and the key pair named by an RFC 7512 URI, logging in, and reading the
// public key. Used by the sequencer's signer (pkcs11-signer.ts), `ctlog keygen --pkcs11`
// and `ctlog shard create`; the CTFE and the read server never open a token.
//
// The binding is pkcs11js (PeculiarVentures, maintained, N-API, MIT): a thin C++ layer over the
// PKCS#11 function list whose C_SignAsync signs in libuv's thread pool. graphene-pk11 (same
// authors) is an object model on top of pkcs11js: more allocation per call and nothing a log
// key needs, so ctlog calls pkcs11js directly.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as Pkcs11Types from 'pkcs11js';
import type { Pkcs11KeyRef } from '../config/pkcs11-uri.js';
import { pctEncodeBytes } from '../config/pkcs11-uri.js';

type Pkcs11Module = typeof Pkcs11Types;
export type Handle = Buffer;
export type Pkcs11 = Pkcs11Types.PKCS11;

/** DER of the OID prime256v1 (1.2.840.10045.3.1.7): CKA_EC_PARAMS of a P-256 key. */
export const P256_EC_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** A module, key or PIN problem that stops start-up; its message says what to fix. */
export class Pkcs11SetupError extends Error {
  override name = 'Pkcs11SetupError';
}

export interface Pkcs11Env {
  /** Path of the token's PKCS#11 library. */
  CTLOG_PKCS11_MODULE?: string;
  /** The user PIN (prefer a file). */
  CTLOG_PKCS11_PIN?: string;
  /** A file holding the user PIN. */
  CTLOG_PKCS11_PIN_FILE?: string;
}

let lib: Pkcs11Module | undefined;

/** The pkcs11js binding, loaded only when a token is used (a file-key log never loads it). */
export async function binding(): Promise<Pkcs11Module> {
  lib ??= ((await import('pkcs11js')) as unknown as { default: Pkcs11Module }).default;
  return lib;
}

interface Loaded {
  p: Pkcs11;
  users: number;
}
const modules = new Map<string, Loaded>();

/**
 * The module at `path`, initialised once per process and shared (a second C_Initialize of the
 * same library fails); released with releaseModule.
 */
export async function openModule(path: string | undefined): Promise<Pkcs11> {
  if (!path) throw new Pkcs11SetupError('CTLOG_PKCS11_MODULE is not set; set it to the path of the token\'s PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)');
  const have = modules.get(path);
  if (have) {
    have.users++;
    return have.p;
  }
  const { PKCS11, CKR_CRYPTOKI_ALREADY_INITIALIZED, CKF_OS_LOCKING_OK } = await binding();
  const p = new PKCS11();
  try {
    p.load(path);
  } catch (err) {
    throw new Pkcs11SetupError(`couldn't load the PKCS#11 module ${path} (CTLOG_PKCS11_MODULE): ${(err as Error).message}`, { cause: err });
  }
  try {
    // The library may use OS locking: sessions are used from the thread pool concurrently.
    p.C_Initialize({ flags: CKF_OS_LOCKING_OK });
  } catch (err) {
    if ((err as { code?: number }).code !== CKR_CRYPTOKI_ALREADY_INITIALIZED) throw new Pkcs11SetupError(`PKCS#11 module ${path}: C_Initialize failed: ${(err as Error).message}`, { cause: err });
  }
  modules.set(path, { p, users: 1 });
  return p;
}

export function releaseModule(p: Pkcs11): void {
  for (const [path, m] of modules) {
    if (m.p !== p) continue;
    if (--m.users > 0) return;
    modules.delete(path);
    try {
      p.C_Finalize();
    } catch {
      // Already finalised or the library is gone: nothing left to release.
    }
    return;
  }
}

/** The user PIN: the URI's pin-source file, else CTLOG_PKCS11_PIN_FILE, else CTLOG_PKCS11_PIN. */
export function readPin(ref: Pkcs11KeyRef, env: Pkcs11Env): { pin: string; from: string } {
  const file = ref.pinSource ?? env.CTLOG_PKCS11_PIN_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Pkcs11SetupError(`couldn't read the PIN file ${file}: ${(err as Error).message}`, { cause: err });
    }
    return { pin: text.replace(/\r?\n$/, ''), from: `the PIN file ${file}` };
  }
  if (env.CTLOG_PKCS11_PIN !== undefined) return { pin: env.CTLOG_PKCS11_PIN, from: 'CTLOG_PKCS11_PIN' };
  throw new Pkcs11SetupError(`no PIN for ${ref.uri}: add pin-source=file:/path/to/pin to the URI, or set CTLOG_PKCS11_PIN_FILE (or CTLOG_PKCS11_PIN)`);
}

const trim = (s: string): string => s.replace(/[\s\0]+$/, '');

/** The slot whose token matches the URI's token (and manufacturer, model, serial). */
export function findSlot(p: Pkcs11, ref: Pkcs11KeyRef): Handle {
  const seen: string[] = [];
  const found: Handle[] = [];
  for (const slot of p.C_GetSlotList(true)) {
    const t = p.C_GetTokenInfo(slot);
    const label = trim(t.label);
    if (label) seen.push(`"${label}"`); // an uninitialised token has no label
    if (label !== ref.token) continue;
    if (ref.manufacturer !== undefined && trim(t.manufacturerID) !== ref.manufacturer) continue;
    if (ref.model !== undefined && trim(t.model) !== ref.model) continue;
    if (ref.serial !== undefined && trim(t.serialNumber) !== ref.serial) continue;
    found.push(slot);
  }
  if (found.length === 0) {
    throw new Pkcs11SetupError(
      `no token labelled "${ref.token}"${ref.serial ? ` with serial ${ref.serial}` : ''} (the module has ${seen.length ? seen.join(', ') : 'no initialised token'}); initialise one (SoftHSM2: softhsm2-util --init-token --free --label ${ref.token}) or fix token= in ${ref.uri}`,
    );
  }
  if (found.length > 1) throw new Pkcs11SetupError(`${found.length} tokens are labelled "${ref.token}"; add serial= to ${ref.uri} to say which`);
  return found[0]!;
}

/** Opens a read-only session and logs the application in (once per token; later calls find it logged in). */
export async function openSession(p: Pkcs11, slot: Handle, ref: Pkcs11KeyRef, env: Pkcs11Env, readWrite = false): Promise<Handle> {
  const b = await binding();
  const session = p.C_OpenSession(slot, b.CKF_SERIAL_SESSION | (readWrite ? b.CKF_RW_SESSION : 0));
  try {
    login(p, session, ref, env, b);
  } catch (err) {
    try {
      p.C_CloseSession(session);
    } catch {
      // The session is unusable anyway.
    }
    throw err;
  }
  return session;
}

function login(p: Pkcs11, session: Handle, ref: Pkcs11KeyRef, env: Pkcs11Env, b: Pkcs11Module): void {
  const { pin, from } = readPin(ref, env);
  try {
    p.C_Login(session, b.CKU_USER, pin);
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code === b.CKR_USER_ALREADY_LOGGED_IN) return;
    if (code === b.CKR_PIN_INCORRECT) throw new Pkcs11SetupError(`token "${ref.token}" refused the PIN from ${from} (CKR_PIN_INCORRECT); put the token's user PIN there (repeated wrong PINs lock the token)`, { cause: err });
    if (code === b.CKR_PIN_LOCKED) throw new Pkcs11SetupError(`token "${ref.token}": the user PIN is locked (CKR_PIN_LOCKED); the security officer must reset it`, { cause: err });
    throw new Pkcs11SetupError(`token "${ref.token}": login failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Handles of the objects of `cls` that match the URI's object= and id=. */
export async function findObjects(p: Pkcs11, session: Handle, ref: Pkcs11KeyRef, cls: 'private' | 'public'): Promise<Handle[]> {
  const b = await binding();
  const template: Pkcs11Types.Template = [{ type: b.CKA_CLASS, value: cls === 'private' ? b.CKO_PRIVATE_KEY : b.CKO_PUBLIC_KEY }];
  if (ref.object !== undefined) template.push({ type: b.CKA_LABEL, value: ref.object });
  if (ref.id !== undefined) template.push({ type: b.CKA_ID, value: Buffer.from(ref.id) });
  p.C_FindObjectsInit(session, template);
  try {
    return p.C_FindObjects(session, 16);
  } finally {
    p.C_FindObjectsFinal(session);
  }
}

function describeKey(ref: Pkcs11KeyRef): string {
  return [ref.object !== undefined ? `object=${ref.object}` : '', ref.id !== undefined ? `id=${pctEncodeBytes(ref.id)}` : ''].filter(Boolean).join(';');
}

/** The one object of `cls` the URI names; a clear error for none or several. */
export async function findKey(p: Pkcs11, session: Handle, ref: Pkcs11KeyRef, cls: 'private' | 'public'): Promise<Handle> {
  const found = await findObjects(p, session, ref, cls);
  if (found.length === 0) {
    throw new Pkcs11SetupError(
      `token "${ref.token}" has no ${cls} key with ${describeKey(ref)}; create the key pair with \`ctlog keygen --pkcs11 '${ref.uri}'\`, or fix object=/id= in the shard's key`,
    );
  }
  if (found.length > 1) throw new Pkcs11SetupError(`token "${ref.token}" has ${found.length} ${cls} keys with ${describeKey(ref)}; add id= (or a unique object=) to ${ref.uri}`);
  return found[0]!;
}

/**
 * The DER SubjectPublicKeyInfo of the token's public key object: an EC key on P-256,
 * CKA_EC_POINT the uncompressed point (as the DER OCTET STRING PKCS#11 specifies, or bare,
 * as some tokens give it). The point is checked to be on the curve.
 */
export async function publicKeySpki(p: Pkcs11, session: Handle, pub: Handle, ref: Pkcs11KeyRef): Promise<Uint8Array> {
  const b = await binding();
  const [type, params, point] = p.C_GetAttributeValue(session, pub, [{ type: b.CKA_KEY_TYPE }, { type: b.CKA_EC_PARAMS }, { type: b.CKA_EC_POINT }]);
  const keyType = Buffer.isBuffer(type!.value) ? type!.value.readUInt32LE(0) : Number(type!.value); // a CK_ULONG, little-endian here
  if (keyType !== b.CKK_EC) throw new Pkcs11SetupError(`token "${ref.token}": the key ${describeKey(ref)} is not an EC key; a log key is ECDSA P-256`);
  if (!P256_EC_PARAMS.equals(params!.value as Buffer)) throw new Pkcs11SetupError(`token "${ref.token}": the key ${describeKey(ref)} is not on P-256 (CKA_EC_PARAMS ${(params!.value as Buffer).toString('hex')}); a log key is ECDSA P-256`);
  let q = point!.value as Buffer;
  if (q.length === 67 && q[0] === 0x04 && q[1] === 65) q = q.subarray(2); // DER OCTET STRING around the point
  if (q.length !== 65 || q[0] !== 0x04) throw new Pkcs11SetupError(`token "${ref.token}": CKA_EC_POINT of ${describeKey(ref)} is not an uncompressed P-256 point`);
  try {
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: q.subarray(1, 33).toString('base64url'), y: q.subarray(33).toString('base64url') }, format: 'jwk' });
    return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  } catch (err) {
    throw new Pkcs11SetupError(`token "${ref.token}": CKA_EC_POINT of ${describeKey(ref)} is not a point on P-256`, { cause: err });
  }
}
