// get-proof-by-hash needs only the index of a leaf hash. Under load many of those lookups
// arrive together; one `leaf_hash IN (...)` query answers all that queued while the previous
// query ran, so the database sees one round trip per batch instead of one per request
// (docs/PERFORMANCE.md: a round trip per request caps a process at a few thousand/s).
import type { ShardStore } from './shard-store.js';
import { hex } from '../util/bytes.js';
import { unavailable } from '../util/errors.js';

/** Most hashes per query: far below any placeholder or packet limit. */
const MAX_BATCH = 500;
/** Lookups waiting for a query, per shard: 20 batches. Beyond, 503 + Retry-After. */
const DEFAULT_MAX_WAITING = 10_000;

interface Waiting {
  hash: Uint8Array;
  key: string;
  resolve: (idx: number | undefined) => void;
  reject: (err: unknown) => void;
}

export class LeafIndexBatcher {
  #queue: Waiting[] = [];
  #running = false;

  constructor(
    private readonly storage: ShardStore,
    private readonly shardId: number,
    private readonly maxWaiting = DEFAULT_MAX_WAITING,
  ) {}

  /** Lookups waiting for their query. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * The index of the entry with this leaf hash, or undefined if the shard has none. Rejects
   * with CtError 503 at once when `maxWaiting` lookups already wait.
   */
  indexOf(hash: Uint8Array): Promise<number | undefined> {
    if (this.#queue.length >= this.maxWaiting) return Promise.reject(unavailable(503, 'busy', 'too many proof lookups waiting; retry shortly', 1));
    return new Promise((resolve, reject) => {
      this.#queue.push({ hash, key: hex(hash), resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // Let the requests already parsed in this turn of the event loop join the batch.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      try {
        const found = await this.#query(batch);
        for (const w of batch) w.resolve(found.get(w.key));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.#running = false;
  }

  #query(batch: Waiting[]): Promise<Map<string, number>> {
    return this.storage.findIndexesByLeafHashes(this.shardId, batch.map((w) => w.hash));
  }
}
