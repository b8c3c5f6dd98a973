// Every serving process follows the shards' states in the database by polling one small
// query (a few rows) every couple of seconds: a state change reaches the CTFE, sequencer and
// read servers within seconds, with no restart and no extra moving part (Redis pub/sub
// would be faster but can lose a message; a poll cannot).
import type { LogStorage, ShardState } from './log-storage.js';

export interface ShardStateWatch {
  /** Polls now (also what the timer does); resolves after onStates ran. */
  poll(): Promise<void>;
  stop(): void;
}

export const DEFAULT_STATE_POLL_MS = 2000;

export function watchShardStates(
  storage: LogStorage,
  o: { intervalMs?: number; onStates: (states: Map<string, ShardState>) => Promise<void> | void; onError?: (err: unknown) => void },
): ShardStateWatch {
  let running: Promise<void> | undefined;
  let stopped = false;
  const poll = (): Promise<void> =>
    (running ??= (async () => {
      try {
        const rows = await storage.knex('shards').select('name', 'state');
        if (!stopped) await o.onStates(new Map(rows.map((r) => [String(r.name), String(r.state) as ShardState])));
      } catch (err) {
        o.onError?.(err);
      } finally {
        running = undefined;
      }
    })());
  const timer = setInterval(() => void poll(), o.intervalMs ?? DEFAULT_STATE_POLL_MS);
  timer.unref();
  return {
    poll,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
