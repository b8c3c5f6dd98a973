// Loading a shard's private key: only the sequencer (and `ctlog shard create`) does this (docs/DESIGN.md: the CTFE and the
// read server hold no signing key).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSigner, type LogSigner } from '../signing/index.js';

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
