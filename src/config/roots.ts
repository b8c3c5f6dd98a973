// Loading a shard's accepted roots from PEM files and directories of PEM files. A root the
// DER walk cannot read is skipped and reported (system bundles carry a few odd ones), but a
// source with no usable root at all is a configuration error.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RootStore, parseCertificate } from '../x509/index.js';

const PEM_RE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g;

export function loadRoots(paths: readonly string[]): { roots: RootStore; skipped: string[] } {
  const ders: Uint8Array[] = [];
  const skipped: string[] = [];
  const readPem = (file: string) => {
    let n = 0;
    for (const m of readFileSync(file, 'utf8').matchAll(PEM_RE)) {
      const der = new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
      try {
        parseCertificate(der);
        ders.push(der);
      } catch (err) {
        skipped.push(`${file} #${n}: ${(err as Error).message}`);
      }
      n++;
    }
  };
  for (const p of paths) {
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        const fp = join(p, f);
        if (/\.(pem|crt|cer)$/i.test(f) && statSync(fp).isFile()) readPem(fp);
      }
    } else {
      readPem(p);
    }
  }
  if (ders.length === 0) throw new Error(`no usable root certificate in ${paths.join(', ')}; point roots at PEM files or directories of them`);
  return { roots: RootStore.fromCerts(ders), skipped };
}
