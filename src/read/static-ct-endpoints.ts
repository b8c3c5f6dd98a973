// C2SP static-ct-api monitoring endpoints, served from the same tables as RFC 6962: the
// checkpoint (the same STH as get-sth, encoded as a signed note), hash tiles, data tiles
// and issuers. Content types are the spec's.
import type { ServerResponse } from 'node:http';
import { sendBytes } from '../http/respond.js';
import { HASH_SIZE, TILE_WIDTH, parseTilePath } from '../merkle/index.js';
import { signedCheckpoint } from '../tls/index.js';
import { fromHex } from '../util/bytes.js';
import { badRequest, notFound } from '../util/errors.js';
import { IMMUTABLE_CACHE, SHORT_CACHE } from './cache-control.js';
import type { EntryPages } from './entry-pages.js';
import type { IssuerCache } from './issuer-cache.js';
import type { ShardReader } from './shard-reader.js';

const OCTETS = 'application/octet-stream';

/** `<prefix>/checkpoint`: "text/plain; charset=utf-8", mutable, so cached for seconds only. */
export async function checkpoint(shard: ShardReader, res: ServerResponse): Promise<void> {
  const h = await shard.head(true);
  const text = signedCheckpoint(shard.rt.origin, h.treeSize, h.rootHash, h.timestamp, h.signature, shard.rt.logId);
  sendBytes(res, 200, text, 'text/plain; charset=utf-8', { 'Cache-Control': SHORT_CACHE });
}

/**
 * `<prefix>/tile/<L>/<N>[.p/<W>]` and `<prefix>/tile/data/<N>[.p/<W>]` (`path` without the
 * leading slash). A partial tile is the first W hashes of the stored tile when it has at
 * least W; a full-width request for a tile that is still partial is a 404, since a partial
 * tile "MUST NOT" stand in for a full one. Both are immutable: a tile URL names fixed bytes.
 */
export async function tile(shard: ShardReader, path: string, res: ServerResponse, pages: EntryPages): Promise<void> {
  const t = parseTilePath(path);
  let body: Uint8Array;
  if (t.level === 'data') {
    body = await pages.dataTile(shard, t.index, t.width);
  } else {
    const stored = await shard.hashTile(t.level, t.index, t.width);
    if (!stored) throw notFound('no_tile', `tile ${t.level}/${t.index} of width ${t.width} does not exist`);
    const want = t.width * HASH_SIZE;
    body = stored.byteLength === want ? stored : stored.subarray(0, want);
  }
  sendBytes(res, 200, body, OCTETS, { 'Cache-Control': IMMUTABLE_CACHE });
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** `<prefix>/issuer/<fingerprint>`: the DER of a chain certificate, "application/pkix-cert". */
export async function issuer(fingerprint: string, res: ServerResponse, issuers: IssuerCache): Promise<void> {
  if (!FINGERPRINT.test(fingerprint)) {
    throw badRequest('bad_fingerprint', `issuer fingerprint must be 64 lowercase hex digits (SHA-256 of the certificate), got ${JSON.stringify(fingerprint.slice(0, 80))}`);
  }
  const c = (await issuers.getMany([fromHex(fingerprint)])).get(fingerprint);
  if (!c) throw notFound('unknown_issuer', `no issuer with fingerprint ${fingerprint}`);
  sendBytes(res, 200, c.der, 'application/pkix-cert', { 'Cache-Control': IMMUTABLE_CACHE });
}
