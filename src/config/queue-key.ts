// The queue key: the secret the CTFE and the sequencer share to authenticate every queue
// message (src/queue/queue-auth.ts). Redis never sees it, so write access to Redis does not
// let anyone have an entry signed. Only the split processes on Redis need one; the embedded
// in-process queue never leaves the process.
//
// Where it comes from, first found wins: --queue-key-file / CTLOG_QUEUE_KEY_FILE (a file),
// CTLOG_QUEUE_KEY (the value, e.g. from a Kubernetes Secret), <data>/queue.key. The value is
// hex or base64 of at least 32 random bytes: `openssl rand -hex 32`. During a rotation it is a
// comma-separated list: the first key seals, a message sealed under any of them is accepted
// (README "The queue key": old,new everywhere; then new,old; then new).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUEUE_KEY_MIN_BYTES } from '../queue/queue-auth.js';

const FIX = `generate one with \`openssl rand -hex 32\` and give the same value to the ctfe and the sequencer (CTLOG_QUEUE_KEY, --queue-key-file FILE, or <data>/queue.key)`;

/** The keys of a queue key value: one, or several separated by commas (a rotation). */
export function parseQueueKeys(text: string, where: string): Uint8Array[] {
  const keys = text.split(',').map((k, i, all) => parseQueueKey(k, all.length > 1 ? `${where} (key ${i + 1})` : where));
  return keys;
}

export function parseQueueKey(text: string, where: string): Uint8Array {
  const t = text.trim();
  let key: Buffer;
  if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) key = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  else throw new Error(`queue key from ${where} is neither hex nor base64; ${FIX}`);
  if (key.length < QUEUE_KEY_MIN_BYTES) throw new Error(`queue key from ${where} has ${key.length} bytes, at least ${QUEUE_KEY_MIN_BYTES} are needed; ${FIX}`);
  return new Uint8Array(key);
}

/** The queue keys (the first seals), or undefined when none is configured anywhere. */
export function loadQueueKey(o: { file?: string; value?: string; dataDir: string }): Uint8Array[] | undefined {
  const file = o.file ?? (o.value === undefined && existsSync(join(o.dataDir, 'queue.key')) ? join(o.dataDir, 'queue.key') : undefined);
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`couldn't read the queue key file ${file}: ${(err as Error).message}; ${FIX}`, { cause: err });
    }
    return parseQueueKeys(text, file);
  }
  if (o.value !== undefined) return parseQueueKeys(o.value, 'CTLOG_QUEUE_KEY');
  return undefined;
}

/** The message for a split process on Redis started without a key. */
export const MISSING_QUEUE_KEY = `ctlog ctfe and ctlog sequencer on Redis need a queue key: Redis is not trusted to say what gets signed; ${FIX}`;
