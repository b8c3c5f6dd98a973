// Latency percentiles in fixed memory for a run of any length: log-spaced buckets 2% wide
// from 0.1 ms to over an hour, so a percentile is exact to within 2%.
const MIN_MS = 0.1;
const GROWTH = 1.02;
const BUCKETS = Math.ceil(Math.log(3_600_000 / MIN_MS) / Math.log(GROWTH)) + 2;

export class LatencySummary {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;

  add(ms: number): void {
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / Math.log(GROWTH)));
    this.counts[i]!++;
    this.count++;
  }

  /** The q-quantile (0..1) in ms (the upper edge of its bucket); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const want = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= want) return i === 0 ? MIN_MS : MIN_MS * GROWTH ** i;
    }
    return Infinity;
  }
}
