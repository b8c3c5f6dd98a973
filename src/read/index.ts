// The read server (`ctlog read`, and the GET side of `ctlog serve`): RFC 6962 §4.3-4.8 and
// the C2SP static-ct-api monitoring endpoints of every shard, from the database.
export { createReader, type ReadDeps, type ReadCacheOptions, type Reader } from './create-reader.js';
// A pruned shard is served from its static-ct-api export, which `ctlog shard export` writes.
export { ExportStore } from './export-store.js';
export { ExportError, exportShard, verifyExport, type ExportProgress, type ExportResult } from './shard-export.js';
export type { ExportManifest } from './export-format.js';
