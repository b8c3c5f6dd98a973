// Removing every Redis key under a queue prefix (a staging reset, and test and benchmark
// clean-up): SCAN in pages and DEL, never KEYS, so a large Redis is not blocked.
import { Redis } from 'ioredis';
import { redisOptions } from './redis-url.js';

export async function deletePrefix(redisUrl: string, prefix: string): Promise<number> {
  const r = new Redis({ ...redisOptions(redisUrl), lazyConnect: true });
  let deleted = 0;
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return deleted;
}
