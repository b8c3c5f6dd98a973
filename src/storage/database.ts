// Opening the database: MariaDB (production) or SQLite (the embedded default), behind one
// knex instance. Migrations live in migrations/ and run through the same code for both.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Logger } from '../log/logger.js';
import { mysqlConnection } from './mysql-url.js';

export interface DatabaseOptions {
  /** mysql://user:pass@host:port/db[?ssl-mode=…] for MariaDB (mysql-url.ts); undefined for the embedded SQLite default. */
  url?: string;
  /** Directory of the embedded SQLite file (ctlog.sqlite); created if missing. */
  dataDir: string;
  /** Connections in the MariaDB pool. @defaultValue 8 */
  poolSize?: number;
  /**
   * Where knex's own warnings go (e.g. "Acquire connection error" with a stack, once per
   * failed acquire). Without it knex prints them raw on stdout, outside the JSON log.
   */
  log?: Logger;
}

/**
 * knex's logger hooks, as single-line JSON records (first line of the message only). Its
 * "Acquire connection error" warning (with a stack, once per failed acquire) is dropped:
 * that error also rejects the query that needed the connection, and whoever awaited it
 * reports it (once, with its fix).
 */
function knexLog(log: Logger | undefined): Knex.Config['log'] {
  const line = (m: unknown) => String(m).split('\n', 1)[0]!.slice(0, 500);
  return {
    warn: (m: unknown) => {
      if (typeof m === 'string' && m.startsWith('Acquire connection error')) return;
      log?.warn('database: driver warning', { reason: 'knex', err: line(m) });
    },
    error: (m: unknown) => log?.error('database: driver error', { reason: 'knex', err: line(m) }),
    deprecate: (m: unknown) => log?.debug('database: deprecation', { err: line(m) }),
    debug: (m: unknown) => log?.debug('database: debug', { err: line(m) }),
  };
}

export type Dialect = 'mysql' | 'sqlite';

export function dialectOf(knex: Knex): Dialect {
  return knex.client.config.client === 'mysql2' ? 'mysql' : 'sqlite';
}


/** Creates the MariaDB database named in url if it does not exist (migrate and tests). */
export async function ensureMysqlDatabase(url: string): Promise<void> {
  const conn = mysqlConnection(url);
  const admin = knexFactory({ client: 'mysql2', connection: { ...conn, database: undefined } as Knex.MySql2ConnectionConfig, pool: { min: 0, max: 1 }, log: knexLog(undefined) });
  try {
    await admin.raw(`CREATE DATABASE IF NOT EXISTS \`${conn.database!.replace(/`/g, '')}\``);
  } finally {
    await admin.destroy();
  }
}

/** Drops a MariaDB database (tests clean up after themselves). */
export async function dropMysqlDatabase(url: string): Promise<void> {
  const conn = mysqlConnection(url);
  const admin = knexFactory({ client: 'mysql2', connection: { ...conn, database: undefined } as Knex.MySql2ConnectionConfig, pool: { min: 0, max: 1 }, log: knexLog(undefined) });
  try {
    await admin.raw(`DROP DATABASE IF EXISTS \`${conn.database!.replace(/`/g, '')}\``);
  } finally {
    await admin.destroy();
  }
}

export function openDatabase(opts: DatabaseOptions): Knex {
  // knex otherwise writes every bound value into an error's message: a failed batch insert
  // would carry megabytes of certificates into logs and answers.
  const compileSqlOnError = false;
  const log = knexLog(opts.log);
  if (opts.url) {
    return knexFactory({ client: 'mysql2', connection: mysqlConnection(opts.url), pool: { min: 0, max: opts.poolSize ?? 8 }, compileSqlOnError, log });
  }
  mkdirSync(opts.dataDir, { recursive: true });
  return knexFactory({
    client: 'better-sqlite3',
    compileSqlOnError,
    log,
    connection: { filename: join(opts.dataDir, 'ctlog.sqlite') },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
      // (an SCT is only returned after its commit, so the commit must survive power loss).
      afterCreate(conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        try {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = FULL');
          // No busy wait: better-sqlite3 waits synchronously, which would block the event
          // loop of a process holding the other transaction. A writer that finds the
          // database locked fails at once (SQLITE_BUSY) and appendBatch reports contention.
          conn.pragma('busy_timeout = 0');
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        } catch (err) {
          done(err as Error, conn);
        }
      },
    },
  });
}

// migrations/ beside src/: the TypeScript sources in a checkout, or their compiled .js in
// dist/migrations (npm run build). knex records each migration by name, so a migration keeps
// its .ts name whichever file runs it: a database migrated by one runs under the other.
const migrationsDir = resolve(import.meta.dirname, '../../migrations');
const MIGRATION_FILE = /^(\d+_.*)\.(ts|js)$/;

/** knex migration source over migrations/, loaded through the module system (no knexfile). */
const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    const names = readdirSync(migrationsDir).flatMap((f) => (f.endsWith('.d.ts') ? [] : [MIGRATION_FILE.exec(f)?.[1]].filter((n) => n !== undefined)));
    return [...new Set(names)].sort().map((n) => `${n}.ts`);
  },
  getMigrationName(name) {
    return name;
  },
  async getMigration(name) {
    const ts = join(migrationsDir, name);
    return (await import(existsSync(ts) ? ts : ts.replace(/\.ts$/, '.js'))) as Knex.Migration;
  },
};

/** Brings the schema up to date; returns the names of the migrations it ran. */
export async function migrate(knex: Knex): Promise<string[]> {
  const [, ran] = (await knex.migrate.latest({ migrationSource })) as [number, string[]];
  return ran;
}
