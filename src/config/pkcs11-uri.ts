// RFC 7512 PKCS#11 URIs naming a log key in a token: pkcs11:token=ctlog;object=2027h1;id=%01
// The module (the vendor's .so) and the user PIN are never part of shards.yaml: the module
// path comes from CTLOG_PKCS11_MODULE, the PIN from a file named by the URI's pin-source
// (RFC 7512 §2.4), from CTLOG_PKCS11_PIN_FILE, or from CTLOG_PKCS11_PIN.
import { isAbsolute } from 'node:path';

export interface Pkcs11KeyRef {
  /** The URI as written (also the key's identity in duplicate checks). */
  readonly uri: string;
  /** CKA_LABEL of the token (CK_TOKEN_INFO.label). */
  readonly token: string;
  /** Optional token selectors (CK_TOKEN_INFO). */
  readonly manufacturer?: string;
  readonly model?: string;
  readonly serial?: string;
  /** CKA_LABEL of the key pair's objects. */
  readonly object?: string;
  /** CKA_ID of the key pair's objects. */
  readonly id?: Uint8Array;
  /** An absolute path of a file holding the user PIN (pin-source=file:/... or a plain path). */
  readonly pinSource?: string;
}

const PATH_ATTRS = new Set(['token', 'manufacturer', 'model', 'serial', 'object', 'id', 'type']);

export class Pkcs11UriError extends Error {
  override name = 'Pkcs11UriError';
}

/** True for a `key:` value that is a PKCS#11 URI rather than a file path. */
export function isPkcs11Uri(s: string): boolean {
  return /^pkcs11:/i.test(s);
}

function pctDecode(v: string, attr: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '%') {
      const h = v.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Pkcs11UriError(`${attr}: "%${h}" is not a percent-encoded byte (RFC 7512 §2.3)`);
      out.push(parseInt(h, 16));
      i += 2;
    } else {
      for (const b of new TextEncoder().encode(c)) out.push(b);
    }
  }
  return new Uint8Array(out);
}

/**
 * Parses and checks a PKCS#11 URI for a log key: it must name the token (token=) and the
 * key (object= and/or id=); type=, if present, must be private or public (both objects of
 * the pair are used). The PIN and the module may not be inline (pin-value, module-path,
 * module-name are refused with where to put them instead).
 */
export function parsePkcs11Uri(uri: string): Pkcs11KeyRef {
  if (!isPkcs11Uri(uri)) throw new Pkcs11UriError(`"${uri}" is not a pkcs11: URI`);
  const rest = uri.slice('pkcs11:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const attrs = new Map<string, string>();
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Pkcs11UriError(`"${part}" is not attribute=value`);
    const k = part.slice(0, eq).toLowerCase();
    if (!PATH_ATTRS.has(k)) throw new Pkcs11UriError(`unsupported attribute "${k}"; ctlog reads ${[...PATH_ATTRS].join(', ')}`);
    if (attrs.has(k)) throw new Pkcs11UriError(`attribute "${k}" given twice (RFC 7512 §2.3)`);
    attrs.set(k, part.slice(eq + 1));
  }
  let pinSource: string | undefined;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? '' : part.slice(eq + 1);
    if (k === 'pin-value') throw new Pkcs11UriError('pin-value: the PIN never goes in shards.yaml; put it in a file named by pin-source=file:/path (mode 0600), or in CTLOG_PKCS11_PIN_FILE or CTLOG_PKCS11_PIN');
    if (k === 'module-path' || k === 'module-name') throw new Pkcs11UriError(`${k}: the module is not named in shards.yaml; set CTLOG_PKCS11_MODULE to the path of the token's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)`);
    if (k !== 'pin-source') throw new Pkcs11UriError(`unsupported query attribute "${k}"; ctlog reads pin-source`);
    if (pinSource !== undefined) throw new Pkcs11UriError('pin-source given twice');
    const src = new TextDecoder().decode(pctDecode(v, 'pin-source'));
    const file = src.startsWith('file:') ? src.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : src;
    if (!isAbsolute(file)) throw new Pkcs11UriError(`pin-source: "${src}" must be an absolute file path like file:/etc/ctlog/pin`);
    pinSource = file;
  }
  const text = (k: string): string | undefined => {
    const v = attrs.get(k);
    if (v === undefined) return undefined;
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(pctDecode(v, k));
    } catch (err) {
      if (err instanceof Pkcs11UriError) throw err;
      throw new Pkcs11UriError(`${k}: not UTF-8 once percent-decoded`);
    }
  };
  const token = text('token');
  if (!token) throw new Pkcs11UriError('token= is required: the label of the token that holds the key');
  const object = text('object');
  const id = attrs.has('id') ? pctDecode(attrs.get('id')!, 'id') : undefined;
  if (id !== undefined && id.byteLength === 0) throw new Pkcs11UriError('id= is empty');
  if (object === undefined && id === undefined) throw new Pkcs11UriError('name the key with object= (its label) and/or id= (its CKA_ID, percent-encoded bytes)');
  if (object === '') throw new Pkcs11UriError('object= is empty');
  const type = text('type');
  if (type !== undefined && type !== 'private' && type !== 'public') throw new Pkcs11UriError(`type=${type}: a log key is a key pair; leave type out or give private or public`);
  return Object.freeze({
    uri,
    token,
    ...(text('manufacturer') !== undefined ? { manufacturer: text('manufacturer') } : {}),
    ...(text('model') !== undefined ? { model: text('model') } : {}),
    ...(text('serial') !== undefined ? { serial: text('serial') } : {}),
    ...(object !== undefined ? { object } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(pinSource !== undefined ? { pinSource } : {}),
  });
}

/** Percent-encodes bytes for an id= attribute. */
export function pctEncodeBytes(b: Uint8Array): string {
  return [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
}
