// The fault battery's load: an open-loop submitter at a fixed rate whose every submission
// behaves like a CA's client: retry after Retry-After on 503/429, after a pause on a refused
// connection, a 500 or a timeout, until it gets its SCT or the battery gives up.
import { Agent } from 'node:http';
import type { Sub } from './generate-chains.js';
import { httpRequest, type Answer } from './http-request.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What became of one submission. */
export interface Outcome {
  sub: Sub;
  /** The SCT JSON of the 200 answer, if one came. */
  sct?: string;
  /** When the first attempt was sent. */
  firstSentAt?: number;
  /** When the attempt that got the 200 was sent, and when it was answered. */
  sentAt?: number;
  answeredAt?: number;
  attempts: number;
  /** A final refusal (a 4xx other than 429): the body, for the report. */
  refused?: string;
}

export interface LoadOptions {
  /** Submissions started per second. */
  rate: number;
  /** Per-request client timeout. */
  timeoutMs: number;
  /** Longest wait a Retry-After may ask for (a CA caps it too). */
  maxRetryAfterS: number;
  /**
   * Most submissions in flight at once (a CA has so many workers). At the bound new ones are
   * not started, and the rate does not catch up afterwards: an outage must not end in a burst
   * of thousands of clients that a 2-core box cannot answer before they time out.
   */
  maxInFlight: number;
}

/**
 * Open-loop load: a new submission starts every 1/rate s while running, whatever the answers;
 * each retries on its own until it has an SCT or the battery gives up (see finish()).
 */
export class Load {
  readonly outcomes: Outcome[] = [];
  /** Answers by status ("200", "503", "503 without Retry-After", "refused", "timeout", ...). */
  readonly answers = new Map<string, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4096 });
  private next = 0;
  private running = false;
  private ticker: NodeJS.Timeout | undefined;
  private pending = new Set<Promise<void>>();
  private giveUpAt = Infinity;
  /** Milliseconds in which no submission was started because maxInFlight were in flight. */
  heldBackMs = 0;
  private issuedAtResume = 0;
  private resumedAt = 0;

  constructor(
    private readonly submitBase: string,
    private readonly pool: Sub[],
    private readonly o: LoadOptions,
  ) {}

  get issued(): number {
    return this.next;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts (or resumes) issuing new submissions at the fixed rate. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.resumedAt = Date.now();
    this.issuedAtResume = this.next;
    let lastTick = Date.now();
    const tick = () => {
      const now = Date.now();
      const since = now - lastTick;
      lastTick = now;
      if (this.pending.size >= this.o.maxInFlight) {
        this.heldBackMs += since;
        this.issuedAtResume = this.next;
        this.resumedAt = now;
        return;
      }
      const due = this.issuedAtResume + Math.floor(((Date.now() - this.resumedAt) * this.o.rate) / 1000);
      while (this.running && this.next < due && this.next < this.pool.length && this.pending.size < this.o.maxInFlight) this.launch(this.pool[this.next++]!);
    };
    this.ticker = setInterval(tick, 5);
  }

  /** Stops issuing new submissions; those in flight keep retrying. */
  pause(): void {
    this.running = false;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Stops issuing, then waits for every submission in flight: retries stop after drainMs. */
  async finish(drainMs: number): Promise<void> {
    this.pause();
    this.giveUpAt = Date.now() + drainMs;
    while (this.pending.size) await Promise.race(this.pending);
    this.agent.destroy();
  }

  /** Waits until nothing is in flight or `ms` passed (without giving up on anything). */
  async drain(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (this.pending.size && Date.now() < until) await sleep(50);
  }

  private count(key: string): void {
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  private launch(sub: Sub): void {
    const out: Outcome = { sub, attempts: 0 };
    this.outcomes.push(out);
    const p = this.run(out).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async run(out: Outcome): Promise<void> {
    const url = `${this.submitBase}/ct/v1/${out.sub.endpoint}`;
    while (Date.now() < this.giveUpAt) {
      out.attempts++;
      const sentAt = Date.now();
      out.firstSentAt ??= sentAt;
      let a: Answer;
      try {
        a = await httpRequest(this.agent, url, 'POST', out.sub.body, this.o.timeoutMs);
      } catch (err) {
        const code = (err as Error).message;
        this.count(code === 'TIMEOUT' ? 'timeout' : code === 'ECONNREFUSED' ? 'refused' : `transport ${code}`);
        await sleep(500);
        continue;
      }
      if (a.status === 200) {
        this.count('200');
        out.sct = a.text;
        out.sentAt = sentAt;
        out.answeredAt = Date.now();
        return;
      }
      if (a.status === 503 || a.status === 429) {
        const ra = a.retryAfter === undefined ? NaN : Number(a.retryAfter);
        this.count(Number.isFinite(ra) ? String(a.status) : `${a.status} without Retry-After`);
        await sleep(1000 * Math.min(this.o.maxRetryAfterS, Number.isFinite(ra) ? ra : 1));
        continue;
      }
      this.count(a.status >= 500 ? `${a.status} ${errorText(a.text)}` : String(a.status));
      if (a.status >= 400 && a.status < 500) {
        out.refused = `${a.status} ${a.text.slice(0, 200)}`;
        return;
      }
      await sleep(1000); // a 500: a CA retries later
    }
  }
}

function errorText(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: string }).error ?? text;
    return JSON.stringify(e.replace(/\d+/g, 'N').slice(0, 80));
  } catch {
    return JSON.stringify(text.slice(0, 80));
  }
}

