// ctlog shard create NAME... | --all: the explicit act that creates a shard in the database.
// NAME creates exactly that shard, once, with a key that must exist. --all is the one
// idempotent set-up step: a key for every configured shard that has none, then every shard
// missing from the database; a shard already there is checked against its key and left alone.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions, UsageError } from '../options.js';

export function registerShardCreate(shard: Command): void {
  const cmd = shard
    .command('create')
    .description(
      'create shards in the database. NAME...: those shards, once each; their keys must exist. ' +
        '--all: every shard in shards.yaml, generating missing keys under --data; shards already ' +
        'created are checked against their keys and left alone, so it is safe to re-run.',
    )
    .argument('[name...]', 'shard names from shards.yaml')
    .option('--all', 'every configured shard, with missing keys generated (idempotent)', false);
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (names: string[], opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const all = Boolean(opts.all);
    if (all && names.length) throw new UsageError('shard create: give shard names or --all, not both');
    if (!all && !names.length) throw new UsageError('shard create: name a shard (ctlog shard create 2027h1) or pass --all for every shard in shards.yaml');
    const { loadConfig } = await import('../../config/config.js');
    const { openShardSigner } = await import('../../config/key-file.js');
    const { migrate } = await import('../../storage/database.js');
    const { createShard } = await import('../../storage/shard-init.js');
    const { b64 } = await import('../../util/bytes.js');
    const { writeKeyFile } = await import('../keys.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    const chosen = all
      ? config.shards
      : names.map((name) => {
          const cfg = config.shards.find((s) => s.name === name);
          if (!cfg) throw new UsageError(`shard create: no shard named ${name} in ${config.file} (it has ${config.shards.map((s) => s.name).join(', ')})`);
          if (!cfg.pkcs11 && !existsSync(cfg.keyFile)) throw new UsageError(`shard create ${name}: key file ${cfg.keyFile} does not exist; make one with \`ctlog keygen --out ${cfg.keyFile}\` (or run \`ctlog shard create --all\`)`);
          return cfg;
        });
    const out: string[] = [];
    await withStorage(o, async (s) => {
      await migrate(s.knex);
      for (const cfg of chosen) {
        let keyNote = '';
        if (all && !cfg.pkcs11 && !existsSync(cfg.keyFile)) {
          try {
            writeKeyFile(cfg.keyFile);
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (code === 'EROFS' || code === 'EACCES') throw new UsageError(`shard ${cfg.name}: no key at ${cfg.keyFile}, and its directory is not writable (${code}); put the shard's key there (in Kubernetes: add it to the ctlog-keys Secret)`);
            throw err;
          }
          keyNote = `, new key ${cfg.keyFile} (back it up: a lost key ends the shard)`;
        }
        // A key in a PKCS#11 token: its public key object gives the log id; one session signs the first STH.
        const signer = await openShardSigner(cfg, { sessions: 1 });
        try {
          const existing = all ? await s.getShard(cfg.name) : undefined;
          if (existing) {
            if (b64(existing.logId) !== b64(signer.logId)) {
              throw new UsageError(
                `shard ${cfg.name} exists in the database with log id ${b64(existing.logId)}, but ${cfg.keyFile} has log id ${b64(signer.logId)}: ${cfg.pkcs11 ? "point key: at the shard's original key in the token" : `put the shard's original key back at ${cfg.keyFile}`}`,
              );
            }
            out.push(`shard ${cfg.name} exists (id ${existing.id}), log id ${b64(existing.logId)}: unchanged`);
            continue;
          }
          const rec = await createShard(s, cfg.name, signer, Date.now());
          out.push(`created shard ${rec.name} (id ${rec.id}), log id ${b64(rec.logId)}${keyNote}`);
        } finally {
          await signer.close?.();
        }
      }
    });
    process.stdout.write(out.join('\n') + '\n');
  });
}
