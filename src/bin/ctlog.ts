// ctlog <command>: the one CLI of the project (docs/DESIGN.md "Processes"), on commander.
//
// Adding a command (the whole pattern):
//   1. Write src/bin/commands/<name>.ts exporting `register<Name>(program: Command): void`,
//      which calls program.command('<name>'), a .helpGroup('Serving:' | 'Operating:'), a
//      .description(), its own options, and the shared flags it reads from ../options.ts
//      (addConfigOptions, addDatabaseOption, addRedisOptions, addListenOption: each flag there
//      has its CTLOG_* variable and a parser that rejects malformed values).
//   2. Add one line to COMMANDS in src/bin/commands/index.ts. A `ctlog shard <sub>` command is
//      src/bin/commands/shard-<sub>.ts exporting register<...>(shard: Command), listed in
//      SHARD_COMMANDS in src/bin/commands/shard.ts.
//   3. In .action(): import what it needs with `await import(...)` (so `--help` and the other
//      commands start fast), throw UsageError (options.ts) for a mistake in how it was called,
//      and let other errors propagate: this file prints each once, with its fix (errors.ts),
//      and exits 0, 1 or 2 (EXIT in errors.ts). A serving command resolves when it has stopped.
// commander handles --help for every command before any action runs, so --help never acts.
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.js';
import { EXIT, EXIT_CODES_HELP, explain } from './errors.js';

const ENV_HELP = `Environment (a flag wins over its variable):
  CTLOG_CONFIG         --config       shards.yaml                     (default ./shards.yaml)
  CTLOG_DATA           --data         keys and the embedded database  (default ./data)
  CTLOG_LISTEN         --listen       HOST:PORT of a serving process  (serve, ctfe 127.0.0.1:6962;
                                                                       read :6963; sequencer :6964)
  CTLOG_DATABASE_URL   --database     mysql://user:password@host:3306/db (default: embedded SQLite)
  CTLOG_REDIS_URL      --redis        redis://host:6379               (default: in-process queue)
  CTLOG_REDIS_PREFIX   --redis-prefix start of every Redis key         (default ctlog)
  CTLOG_QUEUE_KEY      -              the queue key itself, hex or base64 (ctfe and sequencer on Redis)
  CTLOG_QUEUE_KEY_FILE --queue-key-file a file holding it              (default <data>/queue.key)
  CTLOG_WORKERS        --workers      processes of serve and ctfe     (default: the number of cores;
                                                                       the embedded serve: 1)
  CTLOG_LOG_LEVEL      -              debug, info, warn or error      (default info)
  CTLOG_PKCS11_MODULE  -              PKCS#11 library, for shards whose key: is a pkcs11: URI
  CTLOG_PKCS11_PIN_FILE -             file with the token's user PIN (or the URI's pin-source)
  CTLOG_PKCS11_PIN     -              the PIN itself (prefer the file)`;

export function buildProgram(): Command {
  const program = new Command('ctlog')
    .description('A Certificate Transparency log (RFC 6962 and static-ct-api) on MariaDB and Redis, or on an embedded SQLite file.')
    .usage('<command> [flags]   (ctlog <command> --help for its flags)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(`ctlog: ${s.replace(/^error: /, '')}`) })
    .addHelpText('after', `\n${ENV_HELP}\n\n${EXIT_CODES_HELP}\n`);
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride and the output settings when created; --help texts of
  // each subcommand also list the exit codes.
  const addExitCodes = (c: Command): void => {
    c.addHelpText('after', `\n${EXIT_CODES_HELP}\n`);
    c.commands.forEach(addExitCodes);
  };
  program.commands.forEach(addExitCodes);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  let ran: Command | undefined;
  program.hook('preAction', (_program, actionCommand) => {
    ran = actionCommand;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    // commander has printed its own message (or the help) already.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const opts = (ran?.opts() ?? {}) as { database?: string; redis?: string };
    const { message, exit } = explain(err, { database: opts.database, redis: opts.redis });
    process.stderr.write(`ctlog: ${message}\n`);
    return exit;
  }
}

process.exit(await main(process.argv.slice(2)));
