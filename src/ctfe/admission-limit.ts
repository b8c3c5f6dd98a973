// How many submissions one front-end process admits at once: past the cheap checks, into
// reading the body, validating the chain and waiting for the SCT.
//
// By Little's law the submissions in flight are the rate answered times the time each
// takes. Capping them at (the rate answered lately) x (the latency allowed) keeps the time
// an admitted submission takes near the allowed one however much is offered: a saturated
// log answers at its capacity, so the cap is capacity x latency, and everything beyond it
// is refused at once, before it has cost anything but its headers. Below saturation each
// submission takes less than allowed, so the cap (allowed / taken x the submissions in
// flight) sits above the load and grows with it, by that factor every window.
//
// The rate is the best window of the last `memoryMs`, not a running mean: answers come in
// the sequencer's batches, and a pause of a batch or two (a slow commit, a GC) empties a
// window while submissions keep arriving. A mean then halved the cap exactly when the count
// in flight rose, and refused at 60 % of capacity (bench/e2e.ts knee steps). A log that
// really slows down is still followed within memoryMs, and the queue-delay check
// (max_queue_delay_ms) refuses meanwhile.
//
// Without it the front end admitted everything it could read: a burst of 5x capacity
// queued inside it, and a normal client waited 13 s behind the burst (bench/overload.ts).

export interface AdmissionLimitOptions {
  /** The time an admitted submission may take, ms: the cap is the answer rate times this. */
  latencyMs: number;
  /**
   * The cap never goes below this: an idle front end admits a burst this large at once, and
   * the count in flight, which swings with the sequencer's batches, has room above its mean
   * at moderate rates. @defaultValue 128
   */
  min?: number;
  /** Nor above this (the memory bound, max_pending). @defaultValue 16384 */
  max?: number;
  /** How often the cap follows the answer rate, ms. @defaultValue 100 */
  windowMs?: number;
  /** The cap follows the best window of this long, ms. @defaultValue 2000 */
  memoryMs?: number;
  /** ms clock. @defaultValue performance.now */
  now?: () => number;
}

export class AdmissionLimit {
  readonly #latencyMs: number;
  readonly #min: number;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #inFlight = 0;
  #limit: number;
  #answered = 0;
  #windowStart: number;
  /** Answers per ms of the last windows, newest last (at most memoryMs / windowMs of them). */
  readonly #rates: number[] = [];
  readonly #keep: number;

  constructor(o: AdmissionLimitOptions) {
    if (!(o.latencyMs > 0)) throw new RangeError(`latencyMs must be > 0, got ${o.latencyMs}`);
    this.#latencyMs = o.latencyMs;
    this.#min = o.min ?? 128;
    this.#max = o.max ?? 16384;
    if (!(this.#min >= 1 && this.#max >= this.#min)) throw new RangeError(`need 1 <= min <= max, got ${this.#min}, ${this.#max}`);
    this.#windowMs = o.windowMs ?? 100;
    this.#keep = Math.max(1, Math.ceil((o.memoryMs ?? 2000) / this.#windowMs));
    this.#now = o.now ?? (() => performance.now());
    this.#limit = this.#min;
    this.#windowStart = this.#now();
  }

  /** Submissions admitted and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** The current cap. */
  get limit(): number {
    this.#roll();
    return this.#limit;
  }

  /**
   * Whether one more would be admitted at `share` of the cap (lower priorities get less of
   * it). The floor is everyone's: an idle front end admits a burst of any priority.
   */
  admits(share = 1): boolean {
    return this.#inFlight < Math.max(this.#min, this.limit * share);
  }

  /** Admits one submission if there is room at `share` of the cap; release() it once answered. */
  tryAcquire(share = 1): boolean {
    if (!this.admits(share)) return false;
    this.#inFlight++;
    return true;
  }

  release(): void {
    this.#inFlight--;
    this.#answered++;
  }

  #roll(): void {
    const now = this.#now();
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    // A long gap (an idle front end) counts as that many empty windows.
    const windows = Math.min(this.#keep, Math.floor(elapsed / this.#windowMs));
    this.#rates.push(this.#answered / elapsed);
    for (let i = 1; i < windows; i++) this.#rates.push(0);
    if (this.#rates.length > this.#keep) this.#rates.splice(0, this.#rates.length - this.#keep);
    const best = Math.max(...this.#rates);
    this.#limit = Math.min(this.#max, Math.max(this.#min, Math.ceil(best * this.#latencyMs)));
    this.#answered = 0;
    this.#windowStart = now;
  }
}
