// How late this process's event loop runs: the cheap, early overload signal. A CTFE busy
// past its CPU cannot see its own backlog (requests wait in the kernel and in the loop, not
// in any queue of ours), but a timer that fires late says exactly that. Checking the lag
// costs a property read, so a request can be shed before its body is read or parsed.

export interface LoadSignal {
  /** Recent event loop lag, ms (smoothed so that one GC pause alone does not shed). */
  readonly lagMs: number;
}

export class LoadMonitor implements LoadSignal {
  #lag = 0;
  #timer: NodeJS.Timeout | undefined;

  /** @param intervalMs how often the loop is sampled. @defaultValue 20 */
  constructor(
    private readonly intervalMs = 20,
    private readonly onSample?: (lagMs: number) => void,
  ) {}

  get lagMs(): number {
    return this.#lag;
  }

  start(): this {
    if (this.#timer) return this;
    let expected = performance.now() + this.intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - expected);
      expected = now + this.intervalMs;
      // Half of each new sample: one late timer (a GC pause) counts for half, a loop that
      // stays late reaches its lag within three samples, and one that keeps time again
      // stops shedding within a few.
      this.#lag = this.#lag * 0.5 + late * 0.5;
      this.onSample?.(this.#lag);
    }, this.intervalMs);
    this.#timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
