// ctlog demo-chain: an add-chain body under the repository's demo root (NOT TRUSTED).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../options.js';

/** demo/ at the top of the checkout or image: above src/bin/commands, or above dist/src/bin/commands. */
function demoDir(): string {
  for (let d = import.meta.dirname; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'demo', 'demo-root.pem'))) return join(d, 'demo');
  throw new Error('demo/demo-root.pem not found above ' + import.meta.dirname + '; demo-chain runs from a checkout');
}

export function registerDemoChain(program: Command): void {
  program
    .command('demo-chain')
    .helpGroup('Operating:')
    .description('print an add-chain body issued under the demo root (demo/, NOT TRUSTED: its key is public)')
    .option('--precert', 'a precertificate chain (for add-pre-chain)', false)
    .option('--psc', 'a precertificate issued through a precertificate signing certificate', false)
    .option('--not-after <time>', 'the leaf NotAfter, RFC 3339 (default: in 90 days)')
    .action(async (opts: { precert: boolean; psc: boolean; notAfter?: string }) => {
      const { loadIssuer, makeChain, makeIntermediate } = await import('../../cli/cert-factory.js');
      const { b64 } = await import('../../util/bytes.js');
      const now = Date.now();
      const notAfter = opts.notAfter !== undefined ? Date.parse(opts.notAfter) : now + 90 * 86400_000;
      if (!Number.isFinite(notAfter)) throw new UsageError('--not-after takes an RFC 3339 time, e.g. 2027-03-01T00:00:00Z');
      const DEMO_DIR = demoDir();
      const root = loadIssuer(readFileSync(join(DEMO_DIR, 'demo-root.pem'), 'utf8'), readFileSync(join(DEMO_DIR, 'demo-root-key.pem'), 'utf8'));
      const chain = makeChain(makeIntermediate(root, now), {
        kind: opts.precert || opts.psc ? 'precert' : 'x509',
        psc: opts.psc,
        notBefore: now - 3600_000,
        notAfter,
      });
      process.stdout.write(JSON.stringify({ chain: chain.map(b64) }) + '\n');
    });
}
