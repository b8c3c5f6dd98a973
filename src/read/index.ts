// The read server (`ctlog read`, and the GET side of `ctlog serve`): RFC 6962 §4.3-4.8 and
// the C2SP static-ct-api monitoring endpoints of every shard, from the database.
export { createReader, type ReadDeps, type ReadCacheOptions, type Reader } from './create-reader.js';
