// ctlog keygen: one new P-256 log key, by hand (`shard create --all` makes every missing one).
import type { Command } from 'commander';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .helpGroup('Operating:')
    .description('write a new P-256 log key (PEM, mode 0600) and print its log id; never overwrites a key')
    .requiredOption('--out <file>', 'where to write the key, e.g. data/keys/2027h1.pem')
    .action(async (opts: { out: string }) => {
      const { writeKeyFile } = await import('../keys.js');
      const { logIdFromSpki } = await import('../../signing/index.js');
      const { b64, hex } = await import('../../util/bytes.js');
      const spki = writeKeyFile(opts.out);
      process.stdout.write(`wrote ${opts.out}\nlog id ${b64(logIdFromSpki(spki))} (hex ${hex(logIdFromSpki(spki))})\npublic key ${b64(spki)}\n`);
    });
}
