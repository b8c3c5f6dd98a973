// Opens the database for one operator command and always closes it.
import { openDatabase } from '../storage/database.js';
import { LogStorage } from '../storage/log-storage.js';
import type { CommonOptions } from './options.js';

export async function withStorage<T>(o: CommonOptions, f: (s: LogStorage) => Promise<T>): Promise<T> {
  const knex = openDatabase({ url: o.database, dataDir: o.data });
  try {
    return await f(new LogStorage(knex));
  } finally {
    await knex.destroy();
  }
}
