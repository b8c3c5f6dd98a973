// The log key in a PKCS#11 token, as a LogSigner. The private key never leaves the token:
// the token signs SHA-256 digests (CKM_ECDSA) and returns raw r‖s, converted to DER here.
//
// Throughput: a PKCS#11 session runs one operation at a time, so the signer keeps a pool of
// sessions (one login serves them all) and signs with C_SignAsync, which runs in libuv's
// thread pool: up to `sessions` signatures are in the token at once while the event loop
// goes on. Requests beyond that wait for a free session (bounded by the sequencer's batch).
//
// Failure: an error from the token (a session closed, the device removed, a module error)
// fails that signature; the sequencer fails the batch (503) and its waiters retry. The pool
// then drops every session it holds and reconnects on the next request: it finds the token
// and key again and checks the key is still the one it started with, so a different token
// under the same label never signs for this log.
import { createHash, verify } from 'node:crypto';
import type { Pkcs11KeyRef } from '../config/pkcs11-uri.js';
import { ecdsaRawToDer, signerFromFunction, type LogSigner } from '../signing/index.js';
import { equal } from '../util/bytes.js';
import { binding, findKey, findSlot, openModule, openSession, Pkcs11SetupError, publicKeySpki, releaseModule, type Handle, type Pkcs11, type Pkcs11Env } from './pkcs11-token.js';

export interface Pkcs11SignerOptions {
  /** Sessions signing at once. @defaultValue 4 (libuv's default thread pool size) */
  sessions?: number;
  env?: Pkcs11Env;
}

interface Connection {
  slot: Handle;
  key: Handle;
  /** Bumped on every reconnect: sessions of an older generation are closed when released. */
  gen: number;
}

interface Session {
  handle: Handle;
  /** The private key's handle as found by this session's connection. */
  key: Handle;
  gen: number;
}

/** Start-up: finds the token and key, logs in, reads the public key, and signs once to prove the pair. */
export async function openPkcs11Signer(ref: Pkcs11KeyRef, opts: Pkcs11SignerOptions = {}): Promise<LogSigner> {
  const env = opts.env ?? (process.env as Pkcs11Env);
  const max = opts.sessions ?? 4;
  if (!Number.isInteger(max) || max < 1 || max > 256) throw new Pkcs11SetupError(`PKCS#11 sessions: want 1..256, got ${max}`);
  const b = await binding();
  const p = await openModule(env.CTLOG_PKCS11_MODULE);
  let conn: Connection | undefined;
  let gen = 0;
  const free: Session[] = [];
  const waiting: Array<{ resolve: (s: Session) => void; reject: (err: unknown) => void }> = [];
  let open = 0;
  let closed = false;
  let spki: Uint8Array;

  const closeQuietly = (h: Handle): void => {
    try {
      p.C_CloseSession(h);
    } catch {
      // Already gone with the token.
    }
  };

  const connect = async (): Promise<{ conn: Connection; session: Handle }> => {
    const slot = findSlot(p, ref);
    const session = await openSession(p, slot, ref, env);
    try {
      const key = await findKey(p, session, ref, 'private');
      const pub = await publicKeySpki(p, session, await findKey(p, session, ref, 'public'), ref);
      if (spki !== undefined && !equal(pub, spki)) {
        throw new Pkcs11SetupError(`token "${ref.token}" now holds a different key under ${ref.uri} than at start; refusing to sign with it`);
      }
      spki = pub;
      return { conn: { slot, key, gen: ++gen }, session };
    } catch (err) {
      closeQuietly(session);
      throw err;
    }
  };

  const newSession = async (): Promise<Session> => {
    if (!conn) {
      const c = await connect();
      conn = c.conn;
      return { handle: c.session, key: conn.key, gen: conn.gen };
    }
    const { key, gen: g, slot } = conn;
    return { handle: await openSession(p, slot, ref, env), key, gen: g };
  };

  const acquire = async (): Promise<Session> => {
    if (closed) throw new Error(`PKCS#11 signer for ${ref.uri} is closed`);
    const s = free.pop();
    if (s) return s;
    if (open < max) {
      open++;
      try {
        return await newSession();
      } catch (err) {
        open--;
        throw err;
      }
    }
    return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  };

  const release = (s: Session, broken: boolean): void => {
    if (broken && conn && s.gen === conn.gen) {
      // The token or the session failed: every session of this connection is suspect.
      conn = undefined;
      for (const f of free.splice(0)) {
        closeQuietly(f.handle);
        open--;
      }
    }
    if (broken || closed || !conn || s.gen !== conn.gen) {
      closeQuietly(s.handle);
      open--;
      // A waiter gets a new session (or the error of trying) rather than waiting forever.
      const w = waiting.shift();
      if (w) {
        open++;
        newSession().then(w.resolve, (err: unknown) => {
          open--;
          w.reject(err);
        });
      }
      return;
    }
    const w = waiting.shift();
    if (w) w.resolve(s);
    else free.push(s);
  };

  const signDigest = async (digest: Buffer): Promise<Uint8Array> => {
    const s = await acquire();
    try {
      p.C_SignInit(s.handle, { mechanism: b.CKM_ECDSA }, s.key);
      const raw = await p.C_SignAsync(s.handle, digest, Buffer.alloc(64));
      release(s, false);
      return ecdsaRawToDer(raw);
    } catch (err) {
      release(s, true);
      throw err;
    }
  };

  try {
    const first = await acquire();
    release(first, false);
    // One signature at start: a token whose private and public objects do not belong together
    // (or that cannot sign) stops start-up here, not at the first SCT.
    const probe = Buffer.from('ctlog PKCS#11 start-up check');
    const sig = await signDigest(createHash('sha256').update(probe).digest());
    if (!verify('sha256', probe, { key: Buffer.from(spki!), format: 'der', type: 'spki' }, sig)) {
      throw new Pkcs11SetupError(`token "${ref.token}": the private key of ${ref.uri} does not match its public key object`);
    }
  } catch (err) {
    for (const f of free.splice(0)) closeQuietly(f.handle);
    releaseModule(p);
    throw err;
  }

  return signerFromFunction(
    spki!,
    (data) => signDigest(createHash('sha256').update(data).digest()),
    async () => {
      if (closed) return;
      closed = true;
      for (const f of free.splice(0)) closeQuietly(f.handle);
      releaseModule(p);
    },
  );
}

export type { Pkcs11 };
