// ctlog <command>: the one CLI of the project (DESIGN.md "Processes").
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadIssuer, makeChain, makeIntermediate } from '../cli/cert-factory.js';
import { loadConfig, ConfigError } from '../config/config.js';
import { loadSigner } from '../config/key-file.js';
import { buildLogList } from '../cli/log-list.js';
import { formatShardStatus } from '../cli/shard-status.js';
import { shardWitness } from '../cli/shard-witness.js';
import { createLogger } from '../log/logger.js';
import { logIdFromSpki } from '../signing/index.js';
import { ensureMysqlDatabase, migrate, openDatabase } from '../storage/database.js';
import { LogStorage } from '../storage/log-storage.js';
import { createShard } from '../storage/shard-init.js';
import { b64, hex } from '../util/bytes.js';
import { writeKeyFile } from './keys.js';
import { parseCommon, type CommonOptions } from './options.js';
import { startLog, type Role } from './start-log.js';

const USAGE = `usage: ctlog <command> [flags]

Serving:
  serve       CTFE + sequencer + read server in one process (embedded SQLite and in-process
              queue unless --database/--redis are given); creates keys and shards on first run
  ctfe        add-chain / add-pre-chain front end (needs --database and --redis)
  sequencer   the single writer: sequences, commits and signs (needs --database and --redis)
  read        RFC 6962 and static-ct-api reads (needs --database and --redis)

Operating:
  migrate             create or update the database schema
  shard status        one line per shard: state, tree size, STH age
  shard create NAME   create a shard in the database (once; needs its key)
  shard witness NAME [--adopt-database-head]
                      show the fork guard's record of the published head against the
                      database's; --adopt-database-head replaces the record (sequencer stopped;
                      see docs/OPERATIONS.md "Fork guard" first)
  keygen --out FILE   write a new P-256 log key (PEM, mode 0600) and print its log id
  loglist [--tiled]   print the shards as a v3 log list (for monitors such as certspotter)
  demo-chain [--precert] [--psc] [--not-after 2027-03-01T00:00:00Z]
                      print an add-chain body issued under the demo root (demo/, NOT TRUSTED)

Flags (environment):
  --config FILE      shards.yaml (CTLOG_CONFIG; default ./shards.yaml)
  --data DIR         embedded database and generated keys (CTLOG_DATA; default ./data)
  --listen HOST:PORT (CTLOG_LISTEN; default 127.0.0.1:6962)
  --database URL     mysql://user:pass@host:3306/db (CTLOG_DATABASE_URL; default embedded SQLite)
  --redis URL        redis://host:6379 (CTLOG_REDIS_URL; default in-process queue)
  --create-shards    let serve/sequencer create shards missing from the database
`;

async function withStorage<T>(o: CommonOptions, f: (s: LogStorage) => Promise<T>): Promise<T> {
  const knex = openDatabase({ url: o.database, dataDir: o.data });
  try {
    return await f(new LogStorage(knex));
  } finally {
    await knex.destroy();
  }
}

async function serveCommand(roles: Role[], o: CommonOptions): Promise<void> {
  // A fatal sequencer error stops the process with exit code 1: a restart recovers from the
  // database alone (and a supervisor or Kubernetes restarts it at once).
  let onFatal = (): void => {};
  const running = await startLog({
    onFatal: () => onFatal(),
    roles,
    configFile: o.config,
    dataDir: o.data,
    listen: o.listen,
    databaseUrl: o.database,
    redisUrl: o.redis,
    redisPrefix: o.redisPrefix,
    createShards: o.createShards,
    migrate: roles.length === 3,
  });
  const lines = running.shards.map((s) => `  ${s.config.name.padEnd(10)} ${running.url}${s.config.prefix}/   log id ${b64(s.logId)}`);
  process.stdout.write(`ctlog ${roles.length === 3 ? 'serve' : roles[0]} listening on ${running.url}\n${lines.join('\n')}\n`);
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${sig}: shutting down\n`);
    await running.close();
    process.exit(process.exitCode ?? 0);
  };
  onFatal = () => void stop('fatal sequencer error');
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const o = parseCommon(rest);
  switch (cmd) {
    case 'serve':
      await serveCommand(['ctfe', 'sequencer', 'read'], o);
      return -1;
    case 'ctfe':
    case 'read':
    case 'sequencer':
      await serveCommand([cmd], o);
      return -1;
    case 'migrate': {
      if (o.database) await ensureMysqlDatabase(o.database);
      const ran = await withStorage(o, (s) => migrate(s.knex));
      process.stdout.write(ran.length ? `applied ${ran.length} migration(s): ${ran.join(', ')}\n` : 'schema is up to date\n');
      return 0;
    }
    case 'keygen': {
      const out = o.flags.out as string | undefined;
      if (!out) throw new UsageError('keygen needs --out FILE');
      const spki = writeKeyFile(out);
      process.stdout.write(`wrote ${out}\nlog id ${b64(logIdFromSpki(spki))} (hex ${hex(logIdFromSpki(spki))})\npublic key ${b64(spki)}\n`);
      return 0;
    }
    case 'loglist': {
      const config = loadConfig(o.config, o.data);
      const records = await withStorage(o, async (s) => {
        if (!(await s.knex.schema.hasTable('shards'))) throw new Error('the database has no shards yet: run `ctlog serve` (embedded) or `ctlog migrate` and `ctlog shard create`');
        return s.listShards();
      });
      process.stdout.write(JSON.stringify(buildLogList(config, records, Date.now(), { tiled: Boolean(o.flags.tiled) }), null, 2) + '\n');
      return 0;
    }
    case 'shard': {
      const [sub, name] = o.positionals;
      const config = loadConfig(o.config, o.data);
      if (sub === 'status') {
        const records = await withStorage(o, async (s) => ((await s.knex.schema.hasTable('shards')) ? s.listShards() : []));
        process.stdout.write(formatShardStatus(config, records, Date.now()) + '\n');
        return 0;
      }
      if (sub === 'create') {
        const cfg = config.shards.find((s) => s.name === name);
        if (!cfg) throw new UsageError(`shard create: no shard named ${name ?? '(missing)'} in ${config.file}`);
        if (!existsSync(cfg.keyFile)) throw new UsageError(`shard create ${name}: key file ${cfg.keyFile} does not exist; make one with \`ctlog keygen --out ${cfg.keyFile}\``);
        const signer = loadSigner(cfg.keyFile);
        const rec = await withStorage(o, async (s) => {
          await migrate(s.knex);
          return createShard(s, cfg.name, signer, Date.now());
        });
        process.stdout.write(`created shard ${rec.name} (id ${rec.id}), log id ${b64(rec.logId)}\n`);
        return 0;
      }
      if (sub === 'witness') {
        const cfg = config.shards.find((s) => s.name === name);
        if (!cfg) throw new UsageError(`shard witness: no shard named ${name ?? '(missing)'} in ${config.file}`);
        const r = await withStorage(o, (s) => shardWitness(s, cfg, { adopt: Boolean(o.flags['adopt-database-head']) }));
        process.stdout.write(r.text + '\n');
        return r.ok ? 0 : 1;
      }
      throw new UsageError('shard needs a subcommand: status | create NAME | witness NAME');
    }
    case 'demo-chain': {
      const root = loadIssuer(readFileSync(join(DEMO_DIR, 'demo-root.pem'), 'utf8'), readFileSync(join(DEMO_DIR, 'demo-root-key.pem'), 'utf8'));
      const now = Date.now();
      const notAfter = o.flags['not-after'] ? Date.parse(String(o.flags['not-after'])) : now + 90 * 86400_000;
      if (!Number.isFinite(notAfter)) throw new UsageError('--not-after takes an RFC 3339 time, e.g. 2027-03-01T00:00:00Z');
      const chain = makeChain(makeIntermediate(root, now), {
        kind: o.flags.precert || o.flags.psc ? 'precert' : 'x509',
        psc: Boolean(o.flags.psc),
        notBefore: now - 3600_000,
        notAfter,
      });
      process.stdout.write(JSON.stringify({ chain: chain.map(b64) }) + '\n');
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

class UsageError extends Error {}

const DEMO_DIR = resolve(import.meta.dirname, '../../demo');

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exit(code);
} catch (err) {
  const e = err as Error;
  if (err instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`ctlog: ${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`ctlog: bad configuration: ${e.message}\n`);
    process.exit(2);
  }
  createLogger().error('ctlog failed', { err: e.message });
  process.stderr.write(`ctlog: ${e.message}\n`);
  process.exit(1);
}
