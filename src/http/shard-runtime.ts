// What a serving process knows of a shard at run time: its validated config, its database
// row's identity (id, log id, public key) and its accepted roots. Built once at startup by
// the entry point and handed to the CTFE and the read server; holds no private key.
import type { ShardConfig } from '../config/config.js';
import type { ShardState } from '../storage/log-storage.js';
import type { RootStore } from '../x509/index.js';

export interface ShardRuntime {
  readonly config: ShardConfig;
  /** shards.id in the database. */
  readonly id: number;
  /** RFC 6962 §3.2 log id (SHA-256 of the SPKI). */
  readonly logId: Uint8Array;
  /** DER SubjectPublicKeyInfo of the shard key. */
  readonly publicKey: Uint8Array;
  readonly roots: RootStore;
  /** static-ct-api checkpoint origin: the submission prefix without scheme, e.g. "ct.example.org/2027h1". */
  readonly origin: string;
  /**
   * The shard's lifecycle state as the database last said (the entry point polls it and
   * updates this in place). Absent: the configured state.
   */
  readonly live?: { state: ShardState; stateChangedAt?: number };
  /** When the shard was created (ms), for the log metadata's "usable since". */
  readonly createdAt?: number;
}

/** The state a serving process acts on: the database's as last polled, else the config's. */
export function currentState(rt: ShardRuntime): ShardState {
  return rt.live?.state ?? rt.config.state;
}
