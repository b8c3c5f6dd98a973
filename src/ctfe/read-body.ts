// Reading a request body with a hard size limit, without a framework (docs/PERFORMANCE.md:
// express's body parser costs 200–400 µs per request; this costs a few).
import type { IncomingMessage } from 'node:http';
import { CtError, unavailable } from '../util/errors.js';

/**
 * Bytes of request bodies held by all requests of a process at once. Each body is bounded
 * by the size limit, but a thousand slow uploads of 512 KiB would still be half a gigabyte:
 * past this budget, reading one more chunk answers 503 instead.
 */
export class BodyBudget {
  used = 0;
  constructor(readonly max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`body budget must be a positive integer, got ${max}`);
  }
}

/** The client went away before the body was complete: there is no one to answer. */
export class ClientGoneError extends Error {
  override name = 'ClientGoneError';
}

/**
 * Resolves with the whole body. Rejects with CtError 413 as soon as the declared or the
 * received length passes `limit` (it stops collecting; the caller answers and closes the
 * connection), or with ClientGoneError if the request is aborted.
 */
export function readBody(req: IncomingMessage, limit: number, budget?: BodyBudget): Promise<Buffer> {
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
      if (budget) budget.used -= size;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (c: Buffer) => {
      if (budget) {
        if (budget.used + c.length > budget.max) {
          chunks.length = 0;
          return done(unavailable(503, 'busy', 'the log is receiving too many request bodies at once; retry shortly', 1));
        }
        budget.used += c.length;
      }
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
