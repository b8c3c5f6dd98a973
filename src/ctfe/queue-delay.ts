// How long submissions wait for their SCT: the overload signal of the pipeline behind the
// CTFE (queue, sequencer, database). When the sequencer or the database is the bottleneck
// the CTFE's own event loop is idle, so its lag says nothing, and a depth limit in
// submissions means a different wait at every throughput. The wait itself is what a CA
// feels. As in CoDel, the minimum wait over a window separates a standing queue (every
// submission waited: shed) from a burst the pipeline absorbs (some got through at once).

export class QueueDelay {
  #windowStart = -Infinity;
  #min = Infinity;
  #last = 0;

  /** @param windowMs the window over which the minimum wait is taken. @defaultValue 500 */
  constructor(private readonly windowMs = 500) {}

  /** Records the wait (ms) of one submission answered at `now` (ms). */
  observe(waitMs: number, now: number): void {
    this.#roll(now);
    if (waitMs < this.#min) this.#min = waitMs;
  }

  /**
   * The standing wait (ms): the minimum wait over the last complete window; 0 when nothing
   * was answered in it. (A pipeline that answers nothing at all shows up once its waiters
   * reach their deadline: their waits are observed too.)
   */
  standing(now: number): number {
    this.#roll(now);
    return this.#last;
  }

  #roll(now: number): void {
    if (now - this.#windowStart < this.windowMs) return;
    // A window with no answers ends at 0: the queue drained, or it is stuck (see standing()).
    this.#last = now - this.#windowStart < 2 * this.windowMs && this.#min !== Infinity ? this.#min : 0;
    this.#min = Infinity;
    this.#windowStart = now;
  }
}
