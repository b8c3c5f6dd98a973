// MariaDB connection URLs, in the usual forms:
//
//   mysql://user:password@host:3306/db                      plain TCP (a private network only)
//   mysql://…/db?ssl=true                                   TLS, server certificate and host name verified
//   mysql://…/db?ssl-mode=VERIFY_IDENTITY&ssl-ca=/path/ca.pem
//   mysql://…/db?ssl-mode=VERIFY_CA&ssl-ca=…                TLS, CA verified, any host name
//   mysql://…/db?ssl-mode=REQUIRED                          TLS, nothing verified (eavesdropping only)
//   mysql://…/db?ssl-cert=/path/client.pem&ssl-key=/path/client-key.pem   client certificate
//   mysql://…/db?ssl={"rejectUnauthorized":true}            mysql2's own form: its ssl options as JSON
//
// ssl-mode and the ssl-ca / ssl-cert / ssl-key names are those of the MariaDB and MySQL
// clients; mariadb:// is accepted for mysql://. An ssl-ca alone means VERIFY_IDENTITY.
import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';

const PARAMS = new Set(['ssl', 'ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key']);
const MODES = ['DISABLED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'] as const;
type Mode = (typeof MODES)[number];

type Ssl = { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; verifyIdentity?: boolean; [k: string]: unknown };

function readPem(param: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`database URL: couldn't read ${param}=${path}: ${(err as Error).message}`, { cause: err });
  }
}

function sslOf(q: URLSearchParams): Ssl | undefined {
  for (const k of q.keys()) if (!PARAMS.has(k)) throw new Error(`database URL: unknown parameter ${k}; known: ${[...PARAMS].join(', ')}`);
  const ssl = q.get('ssl');
  const modeText = q.get('ssl-mode');
  let mode: Mode | undefined;
  if (modeText !== null) {
    mode = MODES.find((m) => m === modeText.toUpperCase());
    if (!mode) throw new Error(`database URL: ssl-mode=${modeText} must be one of ${MODES.join(', ')}`);
  }
  let base: Ssl = {};
  if (ssl !== null) {
    if (mode) throw new Error('database URL: give ssl or ssl-mode, not both');
    if (/^(true|1)$/i.test(ssl)) mode = 'VERIFY_IDENTITY';
    else if (/^(false|0)$/i.test(ssl)) mode = 'DISABLED';
    else {
      try {
        base = JSON.parse(ssl) as Ssl;
      } catch {
        throw new Error('database URL: ssl must be true, false, or a JSON object of mysql2 ssl options');
      }
      if (!base || typeof base !== 'object' || Array.isArray(base)) throw new Error('database URL: ssl must be true, false, or a JSON object of mysql2 ssl options');
      mode = base.rejectUnauthorized === false ? 'REQUIRED' : base.verifyIdentity === false ? 'VERIFY_CA' : 'VERIFY_IDENTITY';
    }
  }
  const ca = q.get('ssl-ca');
  const cert = q.get('ssl-cert');
  const key = q.get('ssl-key');
  if (!cert !== !key) throw new Error('database URL: ssl-cert and ssl-key go together (a client certificate and its key)');
  mode ??= ca || cert ? 'VERIFY_IDENTITY' : undefined;
  if (mode === undefined) return undefined;
  if (mode === 'DISABLED') {
    if (ca || cert) throw new Error('database URL: ssl-ca/ssl-cert with TLS disabled');
    return undefined;
  }
  return {
    ...base,
    ...(ca && { ca: readPem('ssl-ca', ca) }),
    ...(cert && key && { cert: readPem('ssl-cert', cert), key: readPem('ssl-key', key) }),
    rejectUnauthorized: mode !== 'REQUIRED',
    verifyIdentity: mode === 'VERIFY_IDENTITY',
  };
}

/** mysql2 connection options for a mysql:// (or mariadb://) URL; throws naming the part that is wrong. */
export function mysqlConnection(url: string): Knex.MySql2ConnectionConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('database URL is not a URL; use mysql://user:password@host:3306/db');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error(`database URL must start with mysql:// (got ${u.protocol}//)`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new Error('database URL must name a database, e.g. mysql://root@127.0.0.1:3306/ctlog');
  const ssl = sslOf(u.searchParams);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: decodeURIComponent(u.password),
    database,
    // BIGINT columns come back as numbers while they are safe integers, as strings beyond;
    // toIndex() rejects the latter instead of silently losing precision.
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
    ...(ssl && { ssl: ssl as Knex.MySql2ConnectionConfig['ssl'] }),
  };
}
