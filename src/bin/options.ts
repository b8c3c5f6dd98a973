// Flags shared by every command, each with an environment fallback (containers set env):
// --config (CTLOG_CONFIG, ./shards.yaml), --data (CTLOG_DATA, ./data), --listen (CTLOG_LISTEN,
// 127.0.0.1:6962), --database (CTLOG_DATABASE_URL; none = embedded SQLite), --redis
// (CTLOG_REDIS_URL; none = in-process queue).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface CommonOptions {
  config: string;
  data: string;
  listen: string;
  database: string | undefined;
  redis: string | undefined;
  redisPrefix: string;
  createShards: boolean;
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
}

export const COMMON_FLAGS = {
  config: { type: 'string' },
  data: { type: 'string' },
  listen: { type: 'string' },
  database: { type: 'string' },
  redis: { type: 'string' },
  'redis-prefix': { type: 'string' },
  'create-shards': { type: 'boolean' },
  out: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  tiled: { type: 'boolean' },
  precert: { type: 'boolean' },
  psc: { type: 'boolean' },
  'not-after': { type: 'string' },
  'adopt-database-head': { type: 'boolean' },
} as const;

export function parseCommon(argv: string[], env: NodeJS.ProcessEnv = process.env): CommonOptions {
  const { values, positionals } = parseArgs({ args: argv, options: COMMON_FLAGS, allowPositionals: true, strict: true });
  return {
    config: resolve(values.config ?? env.CTLOG_CONFIG ?? 'shards.yaml'),
    data: resolve(values.data ?? env.CTLOG_DATA ?? 'data'),
    listen: values.listen ?? env.CTLOG_LISTEN ?? '127.0.0.1:6962',
    database: values.database ?? env.CTLOG_DATABASE_URL ?? undefined,
    redis: values.redis ?? env.CTLOG_REDIS_URL ?? undefined,
    redisPrefix: values['redis-prefix'] ?? env.CTLOG_REDIS_PREFIX ?? 'ctlog',
    createShards: values['create-shards'] ?? false,
    positionals,
    flags: values as Record<string, string | boolean | undefined>,
  };
}
