// Real MariaDB and Redis for tests (never mocks): each test file gets its own database and
// queue prefix, dropped afterwards. test/ensure-services.sh has made sure both answer.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletePrefix } from '../../src/queue/delete-prefix.js';
import { dropMysqlDatabase, ensureMysqlDatabase, migrate, openDatabase } from '../../src/storage/database.js';
import { LogStorage } from '../../src/storage/log-storage.js';
import { generateLogKey } from '../../src/signing/index.js';
import { HeadWitness } from '../../src/storage/head-witness.js';
import type { ShardRecord } from '../../src/storage/log-storage.js';

export const MYSQL_BASE = process.env.CTLOG_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.CTLOG_TEST_REDIS ?? 'redis://127.0.0.1:6379';
/** The queue key the CTFE and sequencer of a test share (src/queue/queue-auth.ts); fresh per test process. */
export const QUEUE_KEY = new Uint8Array(randomBytes(32));

export type Backend = 'mysql' | 'sqlite';
export const BACKENDS: Backend[] = ['mysql', 'sqlite'];

export interface TestDb {
  backend: Backend;
  /** Database URL (mysql) or undefined (sqlite). */
  url: string | undefined;
  dataDir: string;
  storage: LogStorage;
  /** Another connection to the same database, as a second process would have. */
  open(): LogStorage;
  drop(): Promise<void>;
}

export async function freshDb(backend: Backend): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ctlog-test-'));
  const url = backend === 'mysql' ? `${MYSQL_BASE}/ctlog_test_${randomBytes(6).toString('hex')}` : undefined;
  if (url) await ensureMysqlDatabase(url);
  const knex = openDatabase({ url, dataDir });
  await migrate(knex);
  const opened: LogStorage[] = [];
  const storage = new LogStorage(knex);
  opened.push(storage);
  return {
    backend,
    url,
    dataDir,
    storage,
    open() {
      const s = new LogStorage(openDatabase({ url, dataDir }));
      opened.push(s);
      return s;
    },
    async drop() {
      await Promise.allSettled(opened.map((s) => s.knex.destroy()));
      if (url) await dropMysqlDatabase(url);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh BullMQ prefix; delete() removes every key under it. */
export function freshPrefix(): { prefix: string; delete(): Promise<void> } {
  const prefix = `test-${randomUUID()}`;
  return {
    prefix,
    async delete() {
      await deletePrefix(REDIS_URL, prefix);
    },
  };
}

/** Writes a fresh P-256 key file; returns its path. */
export function writeKey(dir: string, name = 'log'): string {
  const path = join(dir, `${name}.pem`);
  writeFileSync(path, generateLogKey().privateKeyPem, { mode: 0o600 });
  return path;
}

/**
 * The fork-guard record of a sequencer made by a test: <dataDir>/witness/<shard>.json, as
 * `ctlog sequencer --data dataDir` keeps it, so sequencers started one after another on the
 * same data directory share it.
 */
export function testWitness(dataDir: string, shard: ShardRecord): HeadWitness {
  return new HeadWitness(join(dataDir, 'witness', `${shard.name}.json`), shard);
}
