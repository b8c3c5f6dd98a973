// The one error type of ctlog (docs/STYLE.md habit 4). It carries the HTTP status a handler
// writes out and a short, bounded label for metrics; the message is for the person who
// sent the request ("chain[1] did not sign chain[0]"). Causes are wrapped with { cause }.

export class CtError extends Error {
  override name = 'CtError';
  constructor(
    /** HTTP status the request gets: 4xx for the caller's fault, 5xx for ours. */
    readonly status: number,
    /** Short metrics label, e.g. "bad_chain", "not_after_out_of_window". */
    readonly reason: string,
    message: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, options);
    this.retryAfter = options?.retryAfter;
  }

  /** Seconds for a Retry-After header (429 and 503 answers). */
  readonly retryAfter: number | undefined;
}

/** 503 or 429 with Retry-After: come back later, nothing was lost. */
export function unavailable(status: 429 | 503, reason: string, message: string, retryAfter: number): CtError {
  return new CtError(status, reason, message, { retryAfter });
}

/** 400 with a reason label: the caller sent something wrong. */
export function badRequest(reason: string, message: string, options?: { cause?: unknown }): CtError {
  return new CtError(400, reason, message, options);
}

/** 404: no such shard, entry or tile. */
export function notFound(reason: string, message: string): CtError {
  return new CtError(404, reason, message);
}

/** Wraps an unexpected error as "couldn't <what>: <cause>", keeping a CtError's status. */
export function wrap(what: string, cause: unknown): CtError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  const status = cause instanceof CtError ? cause.status : 500;
  const reason = cause instanceof CtError ? cause.reason : 'internal';
  return new CtError(status, reason, `couldn't ${what}: ${msg}`, { cause });
}
