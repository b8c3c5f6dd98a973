// Loading a shard's private key: only the sequencer (and `ctlog shard create`) does this (DESIGN.md: the CTFE and the
// read server hold no signing key).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSigner, type LogSigner } from '../signing/index.js';
import { openPkcs11Signer, type Pkcs11SignerOptions } from '../hsm/pkcs11-signer.js';
import { Pkcs11SetupError } from '../hsm/pkcs11-token.js';
import type { ShardConfig } from './config.js';

export function loadSigner(keyFile: string): LogSigner {
  let pem: string;
  try {
    pem = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new Error(`couldn't read key file ${keyFile}: ${(err as Error).message}; generate one with \`ctlog keygen --out ${keyFile}\``, { cause: err });
  }
  try {
    return createSigner(createPrivateKey(pem));
  } catch (err) {
    throw new Error(`key file ${keyFile}: ${(err as Error).message}`, { cause: err });
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
