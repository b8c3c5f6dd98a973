// First run of the embedded default: a key for every shard whose key file is missing.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import { generateLogKey } from '../signing/index.js';

/** Writes a P-256 private key (PEM, mode 0600); refuses to overwrite an existing one. */
export function writeKeyFile(path: string): Uint8Array {
  if (existsSync(path)) throw new Error(`${path} exists; refusing to overwrite a log key (a lost key ends a log)`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const k = generateLogKey();
  writeFileSync(path, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
  return k.publicKeySpki;
}

export function ensureKeys(config: LogConfig, log: Logger): string[] {
  const made: string[] = [];
  for (const s of config.shards) {
    // A key in a token is made only by hand (`ctlog keygen --pkcs11`), never on first run.
    if (s.pkcs11 || existsSync(s.keyFile)) continue;
    writeKeyFile(s.keyFile);
    log.debug('generated key', { shard: s.name, file: s.keyFile });
    made.push(s.keyFile);
  }
  return made;
}
