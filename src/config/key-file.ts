// Loading a shard's private key: only the sequencer (and `ctlog shard create`) does this (docs/DESIGN.md: the CTFE and the
// read server hold no signing key).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSigner, type LogSigner } from '../signing/index.js';
import { openPkcs11Signer, type Pkcs11SignerOptions } from '../hsm/pkcs11-signer.js';
import { Pkcs11SetupError } from '../hsm/pkcs11-token.js';
import { ConfigError, type ShardConfig } from './config.js';

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

/** A shard's signer: the PEM key file, or the key in a PKCS#11 token (key: pkcs11:...). Close it when done. */
export async function openShardSigner(cfg: Pick<ShardConfig, 'name' | 'keyFile' | 'pkcs11'>, opts: Pkcs11SignerOptions = {}): Promise<LogSigner> {
  if (!cfg.pkcs11) return loadSigner(cfg.keyFile);
  try {
    return await openPkcs11Signer(cfg.pkcs11, opts);
  } catch (err) {
    // A setup problem (module, token, PIN, key) keeps its class: the CLI reports it as a key to fix, exit 2.
    const E = err instanceof Pkcs11SetupError ? Pkcs11SetupError : Error;
    throw new E(`shard ${cfg.name}: PKCS#11 key ${cfg.pkcs11.uri}: ${(err as Error).message}`, { cause: err });
  }
}
