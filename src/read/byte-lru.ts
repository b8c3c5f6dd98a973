// A least-recently-used map bounded by the bytes of its values. The read path keeps in it
// only what never changes once written (full hash tiles, full get-entries pages, full data
// tiles, issuers), so there is nothing to invalidate: eviction is the only way out.

/**
 * LRU keyed by string, bounded by the sum of `size(value)`. A value larger than the whole
 * budget is not kept. get() refreshes recency; set() of an existing key replaces it.
 */
export class ByteLru<V> {
  readonly #map = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(
    /** Upper bound of the sum of sizes kept. */
    readonly maxBytes: number,
    private readonly size: (v: V) => number,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }

  get(key: string): V | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    // Map iteration order is insertion order: re-inserting makes it the most recent.
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.value;
  }

  set(key: string, value: V): void {
    const bytes = this.size(value);
    const old = this.#map.get(key);
    if (old) {
      this.#map.delete(key);
      this.#bytes -= old.bytes;
    }
    if (bytes > this.maxBytes) return;
    this.#map.set(key, { value, bytes });
    this.#bytes += bytes;
    while (this.#bytes > this.maxBytes) {
      const [k, e] = this.#map.entries().next().value as [string, { value: V; bytes: number }];
      this.#map.delete(k);
      this.#bytes -= e.bytes;
    }
  }

  /** Sum of the sizes of the values kept. */
  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
