// Loading a shard's private key: only the sequencer (and `ctlog shard create`) does this (docs/DESIGN.md: the CTFE and the
// read server hold no signing key).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSigner, type LogSigner } from '../signing/index.js';
import { ConfigError } from './config.js';

export function loadSigner(keyFile: string): LogSigner {
  let pem: string;
  try {
    pem = readFileSync(keyFile, 'utf8');
  } catch (err) {
    // A configuration problem (exit 2), and never "make a new key" for a shard that exists:
    // a new key is a new log id.
    throw new ConfigError(
      `couldn't read key file ${keyFile}: ${(err as Error).message}; put the shard's key there, or, for shards not created yet, run \`ctlog shard create --all\` (it generates the missing keys)`,
      { cause: err },
    );
  }
  try {
    return createSigner(createPrivateKey(pem));
  } catch (err) {
    throw new ConfigError(`key file ${keyFile}: ${(err as Error).message}; it must be a PEM P-256 private key (\`ctlog keygen\` writes one)`, { cause: err });
  }
}
