// What the read path needs from where a shard's data lives: the database (LogStorage) while
// the shard has rows, or its verified static-ct-api export once pruned (ExportStore). Both
// answer the same questions with the same bytes, so every endpoint is served by one code path.
import type { LogStorage } from '../storage/log-storage.js';

export type ShardStore = Pick<LogStorage, 'currentHead' | 'readTiles' | 'readEntries' | 'findIndexesByLeafHashes' | 'readIssuers'>;
