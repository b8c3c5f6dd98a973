// Per-client rate limiting for the submission endpoints (docs/DESIGN.md "Operations": the front
// door of a public log takes abuse). The in-memory bucket is for one replica; with several
// CTFE replicas behind a load balancer use the Redis-backed one so they share the budget.
import { LRUCache } from 'lru-cache';

/**
 * Decides whether a client may make one more request. `key` identifies the client (the CTFE
 * uses its IPv4 address or IPv6 /64, see src/http/client-address.ts). Returns false to
 * refuse. Implementations must not throw for an unknown or strange key.
 */
export interface RateLimiter {
  take(key: string): Promise<boolean> | boolean;
  /** Seconds a refused client should wait (the Retry-After header). @defaultValue 1 */
  readonly retryAfterSeconds?: number;
}

export interface TokenBucketOptions {
  /** Tokens added per second per client: the sustained rate. */
  ratePerSecond: number;
  /** Bucket size: how many requests a quiet client may make at once. @defaultValue ratePerSecond */
  burst?: number;
  /** ms since the epoch; injected so tests control time. */
  clock: () => number;
  /** Clients remembered; the least recently seen is forgotten first. @defaultValue 100000 */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * In-memory token bucket per key: O(1) per call, memory bounded by maxClients. Forgetting
 * a bucket gives its client a full one back, so the bound favours the least recently seen
 * clients' loss: an active abuser keeps its drained bucket.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;
  private readonly rate: number;
  private readonly burst: number;

  constructor(private readonly opts: TokenBucketOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError(`ratePerSecond must be > 0, got ${opts.ratePerSecond}`);
    this.rate = opts.ratePerSecond / 1000;
    this.burst = opts.burst ?? opts.ratePerSecond;
    if (!(this.burst >= 1)) throw new RangeError(`burst must be >= 1, got ${this.burst}`);
    const maxClients = opts.maxClients ?? 100_000;
    if (!Number.isSafeInteger(maxClients) || maxClients < 1) throw new RangeError(`maxClients must be a positive integer, got ${maxClients}`);
    this.buckets = new LRUCache({ max: maxClients });
  }

  take(key: string): boolean {
    const now = this.opts.clock();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      // A clock that steps back refills nothing rather than draining.
      b.tokens = Math.min(this.burst, b.tokens + Math.max(0, now - b.at) * this.rate);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Clients currently remembered. */
  get size(): number {
    return this.buckets.size;
  }

  /** Seconds until a refused client has one token again (for Retry-After). */
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(1 / (this.rate * 1000)));
  }
}
