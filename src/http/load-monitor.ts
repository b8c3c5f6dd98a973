// How late this process's event loop runs: the cheap, early overload signal. A CTFE busy
// past its CPU cannot see its own backlog (requests wait in the kernel and in the loop, not
// in any queue of ours), but a timer that fires late says exactly that. Checking the lag
// costs a property read, so a request can be shed before its body is read or parsed.

export interface LoadSignal {
  /** Recent event loop lag, ms (smoothed so that one GC pause does not shed a burst). */
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
      // Rises at once, decays over a few samples: shedding starts as soon as the loop is
      // late and stops once it has kept time for ~100 ms.
      this.#lag = late > this.#lag ? late : this.#lag * 0.7 + late * 0.3;
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
