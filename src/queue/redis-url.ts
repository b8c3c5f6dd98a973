// Redis connection URLs, in the usual forms (the same as redis-cli -u and redis-py):
//
//   redis://[[username]:password@]host[:port][/db]
//   rediss://[[username]:password@]host[:port][/db][?ssl_ca_certs=FILE&ssl_certfile=FILE&ssl_keyfile=FILE]
//
// rediss:// is TLS, and the server's certificate is always verified: against the system
// CAs (and NODE_EXTRA_CA_CERTS), or against ssl_ca_certs when given. A username selects a
// Redis 6+ ACL user (AUTH username password); without one, the password is the default
// user's. ssl_certfile + ssl_keyfile present a client certificate (Redis tls-auth-clients).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';

const TLS_PARAMS = new Set(['ssl_ca_certs', 'ssl_certfile', 'ssl_keyfile']);

function readPem(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`redis URL: couldn't read ${param}=${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** ioredis options for a redis:// or rediss:// URL; throws naming the part that is wrong. */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('redis URL is not a URL; use redis://[user:password@]host:6379[/db] or rediss://… for TLS');
  }
  const tls = u.protocol === 'rediss:';
  if (!tls && u.protocol !== 'redis:') throw new Error(`redis URL must start with redis:// or rediss:// (got ${u.protocol}//)`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`redis URL: the database after / must be a number (got ${u.pathname.slice(1)})`);
  for (const k of u.searchParams.keys()) {
    if (!TLS_PARAMS.has(k)) throw new Error(`redis URL: unknown parameter ${k}; known: ${[...TLS_PARAMS].join(', ')}`);
    if (!tls) throw new Error(`redis URL: ${k} needs rediss:// (TLS)`);
  }
  const ca = u.searchParams.get('ssl_ca_certs');
  const cert = u.searchParams.get('ssl_certfile');
  const key = u.searchParams.get('ssl_keyfile');
  if (!cert !== !key) throw new Error('redis URL: ssl_certfile and ssl_keyfile go together (a client certificate and its key)');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    ...(tls && {
      tls: {
        // SNI names a host, never an address (RFC 6066 §3); the certificate is checked either way.
        ...(isIP(host) === 0 && { servername: host }),
        ...(ca && { ca: readPem('ssl_ca_certs', ca) }),
        ...(cert && key && { cert: readPem('ssl_certfile', cert), key: readPem('ssl_keyfile', key) }),
      },
    }),
  };
}
