// Writing answers. Handlers throw CtError (status chosen where the error is made, docs/STYLE.md
// habit 4); this is the one place that turns any error into a JSON body and a status. An
// error that is not a CtError is ours: 500, logged, and its details kept from the client.
import type { ServerResponse } from 'node:http';
import { isDatabaseUnavailable } from '../storage/unavailable.js';
import { CtError } from '../util/errors.js';
import type { Logger } from '../log/logger.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendBytes(res: ServerResponse, status: number, body: Uint8Array | string, contentType: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, ...headers });
  res.end(body);
}

/**
 * Retry-After for an error: its own, or 1 s for any 429 or 503 that came without one (a 503
 * relayed from the sequencer, say). Every "come back later" tells the client when.
 */
function retryAfterHeader(err: CtError): Record<string, string> {
  const s = err.retryAfter ?? (err.status === 429 || err.status === 503 ? 1 : undefined);
  return s ? { 'Retry-After': String(s) } : {};
}

/** The status an error maps to (for metrics), and the answer written. */
export function sendError(res: ServerResponse, err: unknown, log?: Logger): number {
  if (res.headersSent) {
    res.destroy();
    return 500;
  }
  if (err instanceof CtError && err.status < 500) {
    sendJson(res, err.status, { error: err.message }, retryAfterHeader(err));
    return err.status;
  }
  if (err instanceof CtError) {
    log?.warn('request failed', { status: err.status, reason: err.reason, err: err.message });
    sendJson(res, err.status, { error: err.message }, retryAfterHeader(err));
    return err.status;
  }
  if (isDatabaseUnavailable(err)) {
    // A restart or failover of the database: monitors and CDNs retry, nothing is wrong with
    // the request. The driver's message stays in the log.
    log?.warn('database unavailable', { err: err instanceof Error ? err.message : String(err) });
    sendJson(res, 503, { error: 'the database is unavailable; retry shortly' }, { 'Retry-After': '5' });
    return 503;
  }
  log?.error('internal error', { err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  sendJson(res, 500, { error: 'internal error' });
  return 500;
}

/** "127.0.0.1:6962", "[::1]:6962", ":6962" -> host and port. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen ${s}: expected HOST:PORT, e.g. 127.0.0.1:6962`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}
