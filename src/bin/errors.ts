// One line per failure, with its fix: the CLI turns what the drivers throw (ECONNREFUSED,
// ER_BAD_DB_ERROR, ...) into what the operator should do next, and picks the exit code.
import { ConfigError } from '../config/config.js';
import { Pkcs11SetupError } from '../hsm/pkcs11-token.js';
import { UsageError } from './options.js';

/** The exit codes of every ctlog command (documented in --help and the README). */
export const EXIT = {
  /** Done; or a serving process stopped by SIGTERM/SIGINT after draining. */
  ok: 0,
  /** It ran and failed: a service unreachable, a database error, a fatal sequencer error. */
  failed: 1,
  /** It did not run: a malformed flag, an unknown command, a bad shards.yaml, a missing key. */
  usage: 2,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  done (a serving process: stopped by SIGTERM or SIGINT after draining)
  1  failed while running: a service unreachable, a database error, a fatal sequencer error
  2  not run: a malformed flag or argument, an unknown command, a bad shards.yaml, a missing key`;

export interface Context {
  database?: string;
  redis?: string;
}

interface DriverError {
  code?: string;
  errno?: number;
  address?: string;
  hostname?: string;
  port?: number;
  sqlMessage?: string;
  message: string;
}

function hostPort(url: string | undefined, defaultPort: number): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return undefined;
  }
}

function isLoopback(h: string): boolean {
  return h === 'localhost' || h === '::1' || h.startsWith('127.');
}

const NET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/** The message (without the "ctlog: " prefix) and exit code for an error that reached the top. */
export function explain(err: unknown, ctx: Context): { message: string; exit: number } {
  const e = (err ?? {}) as DriverError;
  const msg = String(e.message ?? err);
  if (err instanceof UsageError) return { message: msg, exit: EXIT.usage };
  if (err instanceof ConfigError) return { message: `bad configuration: ${msg}`, exit: EXIT.usage };
  if (err instanceof Pkcs11SetupError) return { message: `log key: ${msg}`, exit: EXIT.usage };
  const db = hostPort(ctx.database, 3306);
  const redis = hostPort(ctx.redis, 6379);
  if (e.code && NET_CODES.has(e.code)) {
    // Which service: the error names an address and port (refused, timed out) or a host name
    // (not found); match it against the --redis and --database URLs.
    const host = e.address ?? e.hostname ?? /\s(\S+?):\d+\s*$/.exec(msg)?.[1];
    const port = e.port ?? Number(/:(\d+)\s*$/.exec(msg)?.[1]) ?? undefined;
    const matches = (hp: string | undefined) => {
      if (!hp) return false;
      const i = hp.lastIndexOf(':');
      const [h, p] = [hp.slice(0, i), Number(hp.slice(i + 1))];
      return (host === undefined || host === h || (isLoopback(host) && isLoopback(h))) && (!port || port === p);
    };
    if (matches(redis) && !(matches(db) && e.port === Number(db?.split(':').pop()))) {
      return { message: `cannot reach Redis at ${redis} (${e.code}): check --redis / CTLOG_REDIS_URL, and that Redis is running`, exit: EXIT.failed };
    }
    if (db) return { message: `cannot reach the database at ${db} (${e.code}): check --database / CTLOG_DATABASE_URL, and that MariaDB is running`, exit: EXIT.failed };
    return { message: `${msg}: check the --database and --redis addresses, and that the services are running`, exit: EXIT.failed };
  }
  if (e.code === 'ER_BAD_DB_ERROR') {
    return { message: `${e.sqlMessage ?? msg}: run \`ctlog migrate\` first (it creates the database and its tables), or check the name in --database / CTLOG_DATABASE_URL`, exit: EXIT.failed };
  }
  if (e.code === 'ER_NO_SUCH_TABLE' || /no such table/.test(msg)) {
    return { message: `the database has no ctlog schema (${e.sqlMessage ?? msg}): run \`ctlog migrate\` first`, exit: EXIT.failed };
  }
  if (e.code === 'ER_ACCESS_DENIED_ERROR' || e.code === 'ER_DBACCESS_DENIED_ERROR') {
    return { message: `${e.sqlMessage ?? msg}: check the user and password in --database / CTLOG_DATABASE_URL`, exit: EXIT.failed };
  }
  if (e.code === 'EADDRINUSE') return { message: `${msg}: another process listens there; pass --listen HOST:PORT (or CTLOG_LISTEN) with a free port`, exit: EXIT.failed };
  if (e.code === 'EACCES' && /listen/.test(msg)) return { message: `${msg}: ports below 1024 need privileges; pass --listen with a port ≥ 1024`, exit: EXIT.failed };
  return { message: msg, exit: EXIT.failed };
}
