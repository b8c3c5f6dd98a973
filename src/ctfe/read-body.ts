// Reading a request body with a hard size limit, without a framework (docs/PERFORMANCE.md:
// express's body parser costs 200–400 µs per request; this costs a few).
import type { IncomingMessage } from 'node:http';
import { CtError } from '../util/errors.js';

/** The client went away before the body was complete: there is no one to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/**
 * Resolves with the whole body. Rejects with CtError 413 as soon as the declared or the
 * received length passes `limit` (it stops collecting; the caller answers and closes the
 * connection), or with ClientGoneError if the request is aborted.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new CtError(413, 'body_too_large', `request body exceeds ${limit} bytes; an add-chain body holds a leaf and a few issuers`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  // The client may have left while the caller awaited something (a Redis rate-limit check):
  // a destroyed request emits no more events, so waiting for them would never settle.
  if (req.destroyed) return Promise.reject(new ClientGoneError('request aborted'));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        chunks.length = 0;
        done(tooLarge());
      } else chunks.push(c);
    };
    const onEnd = () => done();
    const onGone = () => done(new ClientGoneError('request aborted'));
    const onClose = () => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}
