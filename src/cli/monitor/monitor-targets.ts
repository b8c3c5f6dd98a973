// Which logs to watch: `--log URL,KEY[,mmd=SECONDS][,frozen]` specs and v3 log list files
// (operators[].logs[], the schema `ctlog loglist` writes and Chrome publishes).
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fromB64 } from '../../util/bytes.js';
import type { MonitorTarget } from './log-monitor.js';

/** A key given as base64 DER SPKI (as in log lists) or the path of a PEM public (or private) key. */
export function parseLogKey(v: string): Uint8Array {
  const raw = /^[A-Za-z0-9+/=]+$/.test(v) && v.length > 40 ? fromB64(v) : undefined;
  const text = raw ? undefined : existsSync(v) ? readFileSync(v, 'utf8') : undefined;
  if (!raw && text === undefined) throw new Error(`log key ${JSON.stringify(v.slice(0, 60))}: neither base64 DER nor a readable PEM file`);
  try {
    const key = raw ? createPublicKey({ key: Buffer.from(raw), format: 'der', type: 'spki' }) : createPublicKey(text!);
    return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
  } catch (err) {
    throw new Error(`log key ${JSON.stringify(v.slice(0, 60))}: ${(err as Error).message}`, { cause: err });
  }
}

/** Parses one `--log` value. */
export function parseLogSpec(spec: string, defaultMmd: number): MonitorTarget {
  const [url, key, ...rest] = spec.split(',');
  if (!url || !key) throw new Error(`--log ${JSON.stringify(spec)}: want URL,KEY[,mmd=SECONDS][,frozen] (KEY: base64 DER public key or a PEM file)`);
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new Error(`--log ${JSON.stringify(spec)}: ${url} is not an http(s) URL`);
  }
  const t: MonitorTarget = { url, key: parseLogKey(key), mmdSeconds: defaultMmd };
  for (const r of rest) {
    const m = /^mmd=(\d+)$/.exec(r);
    if (m) t.mmdSeconds = Number(m[1]);
    else if (r === 'frozen') t.frozen = true;
    else throw new Error(`--log ${JSON.stringify(spec)}: unknown field ${JSON.stringify(r)} (want mmd=SECONDS or frozen)`);
  }
  return t;
}

interface ListLog {
  url?: string;
  key?: string;
  mmd?: number;
  state?: Record<string, { timestamp?: string; final_tree_head?: { sha256_root_hash?: string; tree_size?: number } }>;
  temporal_interval?: { start_inclusive?: string; end_exclusive?: string };
}

/**
 * The RFC 6962 logs of a v3 log list. `retired` and `rejected` logs are skipped; `readonly`
 * ones are watched as frozen (their final tree head must not change). tiled_logs (static-ct-api
 * only, no get-sth) are not monitored by this tool; they are counted in `skipped`.
 */
export function targetsFromLogList(text: string, file: string): { targets: MonitorTarget[]; skipped: string[] } {
  let list: { operators?: Array<{ logs?: ListLog[]; tiled_logs?: Array<{ monitoring_url?: string }> }> };
  try {
    list = JSON.parse(text);
  } catch {
    throw new Error(`log list ${file} is not JSON`);
  }
  if (!Array.isArray(list.operators)) throw new Error(`log list ${file} has no "operators" list (want the v3 log list schema)`);
  const targets: MonitorTarget[] = [];
  const skipped: string[] = [];
  for (const op of list.operators) {
    for (const t of op.tiled_logs ?? []) skipped.push(`${t.monitoring_url ?? '?'} (tiled log)`);
    for (const l of op.logs ?? []) {
      if (typeof l.url !== 'string' || typeof l.key !== 'string') throw new Error(`log list ${file}: a log without url or key`);
      const state = Object.keys(l.state ?? {})[0];
      if (state === 'retired' || state === 'rejected') {
        skipped.push(`${l.url} (${state})`);
        continue;
      }
      const t: MonitorTarget = { url: l.url, key: parseLogKey(l.key), mmdSeconds: typeof l.mmd === 'number' ? l.mmd : 86400 };
      if (state === 'readonly') {
        t.frozen = true;
        const f = l.state!.readonly!.final_tree_head;
        const root = f?.sha256_root_hash ? fromB64(f.sha256_root_hash) : undefined;
        if (f && root && typeof f.tree_size === 'number') t.finalTreeHead = { treeSize: f.tree_size, rootHash: root };
      }
      const ti = l.temporal_interval;
      if (ti?.start_inclusive && ti.end_exclusive) t.notAfterWindow = { start: Date.parse(ti.start_inclusive), end: Date.parse(ti.end_exclusive) };
      targets.push(t);
    }
  }
  return { targets, skipped };
}
