// The pure Merkle core: RFC 6962 §2.1 hashing, proofs and verification, over C2SP
// tlog-tiles storage (height 8).
export * from './hash.js';
export * from './node-id.js';
export * from './tile.js';
export * from './tile-hashes.js';
export * from './plan.js';
export * from './verify.js';
export * from './appender.js';
