// The rate limiter shared by every CTFE replica: one token bucket per client in Redis,
// updated atomically by a small Lua script that reads Redis's own clock (replicas' clocks
// may disagree; Redis's is the one they share).
//
// When Redis is slow or away the limiter neither fails open (a flood that makes Redis time
// out would then switch the limit off exactly when it matters) nor closed (a Redis restart
// would refuse every CA): it falls back to a bucket per client in this replica's memory,
// at the same rate. A client then gets at most (replicas x its limit) until Redis answers
// again: degraded, but bounded. Workers of one process group (src/bin/workers.ts) each
// fall back to their share of the limit, so a host stays within it.
import { Redis } from 'ioredis';
import { redisOptions } from '../queue/redis-url.js';
import { TokenBucketRateLimiter, type RateLimiter } from './rate-limiter.js';
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
  /** How long take() waits for Redis before deciding with the local bucket. @defaultValue 100 */
  timeoutMs?: number;
  /** After a Redis failure, how long to decide locally before asking Redis again. @defaultValue 1000 */
  cooldownMs?: number;
  /** Redis calls outstanding beyond which take() decides locally (bounds the wait list). @defaultValue 1000 */
  maxPending?: number;
  /**
   * The part of the limit the local fallback allows (a worker's share: 1 / workers); its
   * burst is at least one request. @defaultValue 1
   */
  localShare?: number;
  /** Clients remembered by the local fallback bucket. @defaultValue 100000 */
  maxClients?: number;
  log?: Logger;
  /** Called for every decision made locally instead of in Redis (for metrics). */
  onFallback?: (cause: 'redis_error' | 'redis_busy') => void;
}

type Take = (key: string, rate: string, burst: string, ttl: string) => Promise<number>;

/**
 * Token bucket per key in Redis; while Redis fails, a local token bucket per key decides
 * (and a warning is logged at most once a minute, with the count of local decisions).
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly take_: Take;
  private readonly args: [string, string, string];
  private readonly prefix: string;
  private readonly local: TokenBucketRateLimiter;
  private readonly cooldownMs: number;
  private readonly maxPending: number;
  private pending = 0;
  /** performance.now() until which decisions are local (after a failure). */
  private localUntil = -Infinity;
  private lastWarn = -Infinity;
  private localSinceWarn = 0;
  readonly retryAfterSeconds: number;

  constructor(private readonly opts: RedisRateLimiterOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${opts.ratePerSecond}`);
    const burst = opts.burst ?? opts.ratePerSecond;
    if (!(burst >= 1)) throw new RangeError(`burst must be >= 1, got ${burst}`);
    const timeout = opts.timeoutMs ?? 100;
    this.owned = typeof opts.redis === 'string';
    this.redis =
      typeof opts.redis === 'string'
        ? // Commands queued while disconnected are bounded by maxPending and time out like any.
          new Redis({ ...redisOptions(opts.redis), commandTimeout: timeout, maxRetriesPerRequest: 1 })
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
    const share = opts.localShare ?? 1;
    if (!(share > 0 && share <= 1)) throw new RangeError(`localShare must be in (0, 1], got ${share}`);
    this.local = new TokenBucketRateLimiter({ ratePerSecond: opts.ratePerSecond * share, burst: Math.max(1, burst * share), clock: Date.now, maxClients: opts.maxClients });
    this.cooldownMs = opts.cooldownMs ?? 1000;
    this.maxPending = opts.maxPending ?? 1000;
    if (!Number.isSafeInteger(this.maxPending) || this.maxPending < 1) throw new RangeError(`maxPending must be a positive integer, got ${this.maxPending}`);
  }

  async take(key: string): Promise<boolean> {
    const now = performance.now();
    if (now < this.localUntil) return this.decideLocally(key, 'redis_error');
    if (this.pending >= this.maxPending) return this.decideLocally(key, 'redis_busy');
    this.pending++;
    try {
      return (await this.take_(this.prefix + key, ...this.args)) === 1;
    } catch (err) {
      this.localUntil = performance.now() + this.cooldownMs;
      return this.decideLocally(key, 'redis_error', err);
    } finally {
      this.pending--;
    }
  }

  private decideLocally(key: string, cause: 'redis_error' | 'redis_busy', err?: unknown): boolean {
    this.opts.onFallback?.(cause);
    this.localSinceWarn++;
    const now = performance.now();
    if (now - this.lastWarn > 60_000) {
      this.lastWarn = now;
      this.opts.log?.warn('rate limiter: Redis unavailable or slow, deciding with the local bucket', {
        cause,
        decisions: this.localSinceWarn,
        ...(err ? { err: (err as Error).message } : {}),
      });
      this.localSinceWarn = 0;
    }
    return this.local.take(key);
  }

  /** Disconnects the client if this limiter created it. Idempotent. */
  async close(): Promise<void> {
    if (this.owned && this.redis.status !== 'end') this.redis.disconnect();
  }
}
