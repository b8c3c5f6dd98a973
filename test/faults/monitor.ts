// The fault battery's monitor: polls get-sth and the checkpoint of every read server it is
// given and records each distinct tree head it is shown, with whether its signature verifies.
import { Agent } from 'node:http';
import { verifySth } from '../../src/signing/index.js';
import { parseRfc6962NoteSignature, parseSignedCheckpoint, type TreeHead } from '../../src/tls/index.js';
import { b64, fromB64 } from '../../src/util/bytes.js';
import { httpRequest } from './http-request.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** verifySth, with a malformed signature counted as one that does not verify. */
export function sthVerifies(spki: Uint8Array, head: TreeHead, signature: Uint8Array): boolean {
  try {
    return verifySth(spki, head, signature);
  } catch {
    return false;
  }
}

/** A tree head the read server showed, from get-sth or the checkpoint. */
export interface SeenSth {
  source: 'get-sth' | 'checkpoint';
  /** The read server's base URL. */
  server: string;
  /** When it was fetched. */
  at: number;
  size: number;
  root: string;
  timestamp: number;
  signatureOk: boolean;
}

/**
 * Polls get-sth (every pollMs) and the checkpoint (every other poll) of one shard and keeps
 * every distinct tree head; also when each get-sth request that got a 200 was sent.
 */
export class Monitor {
  readonly seen: SeenSth[] = [];
  readonly readOkSentAt: number[] = [];
  readonly errors = new Map<string, number>();
  private readonly keys = new Set<string>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });
  private stopped = false;
  private loop: Promise<void> | undefined;

  private readonly bases: string[];

  constructor(
    readBase: string,
    private readonly spki: Uint8Array,
    private readonly pollMs = 250,
  ) {
    this.bases = [readBase];
  }

  /** Also polls another read server (e.g. one started later); its get-sth 200s count for recovery too. */
  addReadServer(readBase: string): void {
    this.bases.push(readBase);
  }

  start(): void {
    this.loop = (async () => {
      for (let i = 0; !this.stopped; i++) {
        await Promise.all(this.bases.flatMap((b) => [this.poll(b, 'get-sth'), i % 2 === 0 ? this.poll(b, 'checkpoint') : undefined]));
        await sleep(this.pollMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.agent.destroy();
  }

  private record(s: SeenSth): void {
    const k = `${s.server} ${s.source} ${s.size} ${s.root} ${s.timestamp}`;
    if (this.keys.has(k)) return;
    this.keys.add(k);
    this.seen.push(s);
  }

  private async poll(base: string, source: SeenSth['source']): Promise<void> {
    const sentAt = Date.now();
    try {
      const a = await httpRequest(this.agent, `${base}/${source === 'get-sth' ? 'ct/v1/get-sth' : 'checkpoint'}`, 'GET', undefined, 3000);
      if (a.status !== 200) {
        const k = `${source} ${a.status}`;
        this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
        return;
      }
      if (source === 'get-sth') {
        if (base === this.bases[0]) this.readOkSentAt.push(sentAt);
        const j = JSON.parse(a.text) as { tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string };
        const root = fromB64(j.sha256_root_hash)!;
        const signatureOk = sthVerifies(this.spki, { timestamp: j.timestamp, treeSize: j.tree_size, rootHash: root }, fromB64(j.tree_head_signature)!);
        this.record({ source, server: base, at: sentAt, size: j.tree_size, root: j.sha256_root_hash, timestamp: j.timestamp, signatureOk });
      } else {
        const cp = parseSignedCheckpoint(a.text);
        const sig = parseRfc6962NoteSignature(cp.signatures[0]!.signature);
        const signatureOk = sthVerifies(this.spki, { timestamp: sig.timestamp, treeSize: cp.treeSize, rootHash: cp.rootHash }, sig.treeHeadSignature);
        this.record({ source, server: base, at: sentAt, size: cp.treeSize, root: b64(cp.rootHash), timestamp: sig.timestamp, signatureOk });
      }
    } catch (err) {
      const k = `${source} ${(err as Error).message}`;
      this.errors.set(k, (this.errors.get(k) ?? 0) + 1);
    }
  }
}
