// The CTFE service: add-chain / add-pre-chain over node:http, and its rate limiters.
export { createCtfe, type Ctfe, type CtfeDeps } from './create-ctfe.js';
export { TokenBucketRateLimiter, type RateLimiter, type TokenBucketOptions } from './rate-limiter.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './redis-rate-limiter.js';
export { parseChainBody } from './parse-chain.js';
export { readBody, ClientGoneError } from './read-body.js';
