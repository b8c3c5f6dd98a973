// Structured JSON logs, one object per line on stderr: what operators ship to their log
// pipeline. Level names match what log shippers expect.
import { LRUCache } from 'lru-cache';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(opts: { level?: Level; base?: Record<string, unknown>; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? ((process.env.CTLOG_LOG_LEVEL as Level | undefined) ?? 'info')] ?? 20;
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = opts.base ?? {};
  const log = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    for (const [k, v] of Object.entries(rec)) if (v instanceof Error) rec[k] = v.message;
    write(JSON.stringify(rec));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = createLogger({ write: () => {} });

/**
 * A logger that writes each distinct warning or error (same level, message and `reason`
 * field) at most once per `windowMs`; the next one written after the window carries
 * `repeated`: how many were dropped since. A failing dependency then costs a line every few
 * seconds, not one per request or batch. debug and info pass through.
 */
export function throttledLogger(log: Logger, opts: { windowMs?: number; maxKeys?: number; now?: () => number } = {}): Logger {
  const windowMs = opts.windowMs ?? 10_000;
  const maxKeys = opts.maxKeys ?? 1000;
  const now = opts.now ?? (() => performance.now());
  const seen = new LRUCache<string, { at: number; dropped: number }>({ max: maxKeys });
  const gate = (level: 'warn' | 'error') => (msg: string, fields?: Record<string, unknown>) => {
    const key = `${level}\u0000${msg}\u0000${String(fields?.reason ?? '')}`;
    const t = now();
    const s = seen.get(key);
    if (s && t - s.at < windowMs) {
      s.dropped++;
      return;
    }
    seen.set(key, { at: t, dropped: 0 });
    log[level](msg, s?.dropped ? { ...fields, repeated: s.dropped } : fields);
  };
  return { debug: log.debug, info: log.info, warn: gate('warn'), error: gate('error'), child: (f) => throttledLogger(log.child(f), opts) };
}
