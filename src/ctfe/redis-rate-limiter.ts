// The rate limiter shared by every CTFE replica: one token bucket per client in Redis,
// updated atomically by a small Lua script that reads Redis's own clock (replicas' clocks
// may disagree; Redis's is the one they share).
import { Redis } from 'ioredis';
import { redisOptions } from '../queue/redis-url.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Logger } from '../log/logger.js';

// KEYS[1] = bucket; ARGV = tokens per ms, burst, idle TTL in ms. Returns 1 to allow.
// The bucket is a hash {k = tokens, a = last update ms}; it expires once it would be full.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'k', 'a')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'k', tostring(tokens), 'a', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return ok
`;

export interface RedisRateLimiterOptions {
  /** redis://host:port[/db], or a connected client (give it a commandTimeout). */
  redis: string | Redis;
  /** Tokens added per second per client. */
  ratePerSecond: number;
  /** Bucket size. @defaultValue ratePerSecond */
  burst?: number;
  /** Key prefix in Redis. @defaultValue "ctlog:rl:" */
  prefix?: string;
  /** How long take() waits for Redis before letting the request through. @defaultValue 100 */
  timeoutMs?: number;
  log?: Logger;
}

type Take = (key: string, rate: string, burst: string, ttl: string) => Promise<number>;

/**
 * Token bucket per key in Redis. Fails open: when Redis is slow or down the request is
 * allowed (and a warning logged at most once a minute), because refusing every CA while
 * Redis restarts would turn a rate limiter into an outage.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly take_: Take;
  private readonly args: [string, string, string];
  private readonly prefix: string;
  private lastWarn = -Infinity;
  readonly retryAfterSeconds: number;

  constructor(private readonly opts: RedisRateLimiterOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${opts.ratePerSecond}`);
    const burst = opts.burst ?? opts.ratePerSecond;
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    const timeout = opts.timeoutMs ?? 100;
    this.owned = typeof opts.redis === 'string';
    this.redis =
      typeof opts.redis === 'string'
        ? new Redis({ ...redisOptions(opts.redis), commandTimeout: timeout, maxRetriesPerRequest: 1 })
        : opts.redis;
    this.redis.on('error', () => {
      /* reported by take() when it matters; ioredis reconnects by itself */
    });
    this.redis.defineCommand('ctlogTakeToken', { numberOfKeys: 1, lua: TAKE });
    const cmd = (this.redis as unknown as Record<string, Take>).ctlogTakeToken!;
    this.take_ = cmd.bind(this.redis);
    // Idle TTL: the time a drained bucket takes to fill, plus a second.
    const ttl = Math.ceil((burst / opts.ratePerSecond) * 1000) + 1000;
    this.args = [String(opts.ratePerSecond / 1000), String(burst), String(ttl)];
    this.prefix = opts.prefix ?? 'ctlog:rl:';
    this.retryAfterSeconds = Math.max(1, Math.ceil(1 / opts.ratePerSecond));
  }

  async take(key: string): Promise<boolean> {
    try {
      return (await this.take_(this.prefix + key, ...this.args)) === 1;
    } catch (err) {
      const now = performance.now();
      if (now - this.lastWarn > 60_000) {
        this.lastWarn = now;
        this.opts.log?.warn('rate limiter: Redis unavailable, allowing requests', { err: (err as Error).message });
      }
      return true;
    }
  }

  /** Disconnects the client if this limiter created it. Idempotent. */
  async close(): Promise<void> {
    if (this.owned && this.redis.status !== 'end') this.redis.disconnect();
  }
}
