// ctlog keygen: one new P-256 log key, by hand (`shard create --all` makes every missing one):
// a PEM file (--out), or a key pair generated inside a PKCS#11 token (--pkcs11 URI).
import type { Command } from 'commander';
import { UsageError } from '../options.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .helpGroup('Operating:')
    .description(
      'make a new P-256 log key and print its log id; never overwrites a key. --out: a PEM file (mode 0600). ' +
        '--pkcs11: a key pair generated inside the token (the private key is not extractable); the module ' +
        'is CTLOG_PKCS11_MODULE, the PIN from the URI\'s pin-source file, CTLOG_PKCS11_PIN_FILE or CTLOG_PKCS11_PIN',
    )
    .option('--out <file>', 'where to write the key, e.g. data/keys/2027h1.pem')
    .option('--pkcs11 <uri>', "an RFC 7512 URI naming the token and the new key, e.g. 'pkcs11:token=ctlog;object=2027h1'")
    .action(async (opts: { out?: string; pkcs11?: string }) => {
      if (Boolean(opts.out) === Boolean(opts.pkcs11)) throw new UsageError('keygen: give either --out FILE (a PEM key file) or --pkcs11 URI (a key in a token)');
      const { logIdFromSpki } = await import('../../signing/index.js');
      const { b64, hex } = await import('../../util/bytes.js');
      const said = (spki: Uint8Array) => `log id ${b64(logIdFromSpki(spki))} (hex ${hex(logIdFromSpki(spki))})\npublic key ${b64(spki)}\n`;
      if (opts.out) {
        const { writeKeyFile } = await import('../keys.js');
        const spki = writeKeyFile(opts.out);
        process.stdout.write(`wrote ${opts.out}\n${said(spki)}`);
        return;
      }
      const { parsePkcs11Uri, pctEncodeBytes } = await import('../../config/pkcs11-uri.js');
      const { generatePkcs11Key } = await import('../../hsm/pkcs11-keygen.js');
      let ref;
      try {
        ref = parsePkcs11Uri(opts.pkcs11!);
      } catch (err) {
        throw new UsageError(`keygen --pkcs11: ${(err as Error).message}`);
      }
      const k = await generatePkcs11Key(ref);
      const uri = ref.id ? ref.uri : `${ref.uri.split('?')[0]};id=${pctEncodeBytes(k.id)}${ref.uri.includes('?') ? `?${ref.uri.split('?')[1]}` : ''}`;
      process.stdout.write(`generated a P-256 key pair in token "${ref.token}"\nkey: ${uri}\n${said(k.publicKeySpki)}`);
    });
}
