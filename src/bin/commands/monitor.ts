// ctlog monitor: watches RFC 6962 logs (ours or anyone's): STH signature and freshness,
// consistency across every new STH (and across restarts, from its state file), the
// static-ct-api checkpoint, optionally the entries, and canary submissions until included.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { UsageError } from '../options.js';

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number of ${what}`);
  return n;
};
const count = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
};
const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .helpGroup('Operating:')
    .summary('watch logs (ours or any RFC 6962 log): STHs, consistency, checkpoint, canaries; /metrics')
    .description(
      'Watches RFC 6962 logs given with --log or a v3 log list: each round verifies the STH signature, ' +
        'its age against the MMD and --max-sth-age, its consistency with the last verified STH ' +
        '(get-sth-consistency), that the tree never shrinks, that the static-ct-api checkpoint is the same ' +
        'tree head, optionally rebuilds the tree from get-entries, and with a test CA submits canary ' +
        'certificates and precertificates and follows each SCT until it is provably included. ' +
        'Every problem is a JSON line on stderr and a metric on --listen /metrics. The last verified STH ' +
        'per log is kept in --state, so a fork during a restart is still caught.',
    )
    .addOption(new Option('--log <url,key[,mmd=S][,frozen]>', 'a log to watch: base URL and key (base64 DER SPKI, or a PEM file); repeatable').argParser(collect))
    .addOption(new Option('--log-list <file>', 'watch the RFC 6962 logs of a v3 log list (e.g. from `ctlog loglist`)').env('CTLOG_MONITOR_LOG_LIST'))
    .addOption(new Option('--mmd <seconds>', 'MMD of the --log logs').default(86400).argParser(positive('seconds')))
    .addOption(new Option('--interval <seconds>', 'time between rounds').env('CTLOG_MONITOR_INTERVAL').default(60).argParser(positive('seconds')))
    .addOption(new Option('--max-sth-age <seconds>', 'alarm when the latest STH is older (besides the MMD); frozen logs are exempt').env('CTLOG_MONITOR_MAX_STH_AGE').default(3600).argParser(positive('seconds')))
    .addOption(new Option('--entries <n>', 'fetch and hash up to n new entries per round and compare the rebuilt tree with the signed root (0: off; costs bandwidth)').env('CTLOG_MONITOR_ENTRIES').default(0).argParser(count))
    .addOption(new Option('--ca-cert <pem>', 'test CA certificate (then its chain) for canary submissions').env('CTLOG_MONITOR_CA_CERT'))
    .addOption(new Option('--ca-key <pem>', 'the test CA private key (PKCS#8 PEM)').env('CTLOG_MONITOR_CA_KEY'))
    .option('--demo-ca', 'send canaries issued under the demo root (demo/, NOT TRUSTED: for a local or staging log)', false)
    .addOption(new Option('--state <file>', 'the last verified STH per log, kept across restarts').env('CTLOG_MONITOR_STATE').default('data/monitor-state.json'))
    .addOption(new Option('--listen <host:port>', 'where to serve /metrics').env('CTLOG_LISTEN').default('127.0.0.1:6965'))
    .addOption(new Option('--timeout <seconds>', 'per HTTP request').default(10).argParser(positive('seconds')))
    .option('--once', 'run every check once (waiting for canaries to be included) and exit: 0 if all passed, 1 otherwise', false)
    .addOption(new Option('--once-wait <seconds>', 'with --once, how long to wait for canaries to be included, at most the MMD; a canary still waiting then is a failure').default(300).argParser(positive('seconds')))
    .action(async (o: {
      log?: string[]; logList?: string; mmd: number; interval: number; maxSthAge: number; entries: number;
      caCert?: string; caKey?: string; demoCa: boolean; state: string; listen: string; timeout: number; once: boolean; onceWait: number;
    }) => {
      const { readFileSync } = await import('node:fs');
      const { parseLogSpec, targetsFromLogList } = await import('../../cli/monitor/monitor-targets.js');
      const { Monitor } = await import('../../cli/monitor/run-monitor.js');
      const { serveMetrics } = await import('../../cli/metrics-server.js');
      const { TestIssuer, demoCaFiles } = await import('../../cli/test-issuer.js');
      const { createLogger } = await import('../../log/logger.js');
      const log = createLogger({ base: { component: 'monitor' } });
      const targets = [];
      try {
        for (const spec of o.log ?? []) targets.push(parseLogSpec(spec, o.mmd));
        if (o.logList) {
          let text: string;
          try {
            text = readFileSync(o.logList, 'utf8');
          } catch (err) {
            throw new Error(`couldn't read the log list: ${(err as Error).message}`);
          }
          const fromList = targetsFromLogList(text, o.logList);
          for (const s of fromList.skipped) log.info('not monitored', { log: s });
          targets.push(...fromList.targets);
        }
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (targets.length === 0) throw new UsageError('no log to watch: give --log URL,KEY or --log-list FILE (e.g. `ctlog loglist > logs.json`)');
      if (Boolean(o.caCert) !== Boolean(o.caKey)) throw new UsageError('--ca-cert and --ca-key go together');
      const ca = o.caCert ? { cert: o.caCert, key: o.caKey! } : o.demoCa ? demoCaFiles() : undefined;
      const issuer = ca ? TestIssuer.fromFiles(ca.cert, ca.key, Date.now()) : undefined;
      const monitor = new Monitor({
        targets,
        statePath: resolve(o.state),
        intervalMs: o.interval * 1000,
        maxSthAgeMs: o.maxSthAge * 1000,
        entriesPerRound: o.entries,
        issuer,
        timeoutMs: o.timeout * 1000,
        log,
      });
      if (o.once) {
        const problems = await monitor.once(1000, o.onceWait * 1000);
        const canaries = issuer ? ', canaries included' : '';
        process.stdout.write(problems.length === 0 ? `ctlog monitor: ${targets.length} log(s) passed every check${canaries}\n` : `ctlog monitor: ${problems.length} problem(s), listed above\n`);
        process.exitCode = problems.length === 0 ? 0 : 1;
        return;
      }
      const { url, server } = await serveMetrics(monitor.metrics.registry, o.listen);
      process.stdout.write(`ctlog monitor listening on ${url} (/metrics), watching ${targets.map((t) => t.url).join(' ')}\n`);
      monitor.start();
      await new Promise<void>((done) => {
        const stop = async (why: string) => {
          process.stderr.write(`${why}: shutting down\n`);
          await monitor.close();
          server.close();
          done();
        };
        process.once('SIGINT', () => void stop('SIGINT'));
        process.once('SIGTERM', () => void stop('SIGTERM'));
      });
    });
}
