// ctlog load: the staging load generator: submissions at a fixed rate in a given mix, with
// live progress, Prometheus metrics, and every Nth SCT followed until included.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../options.js';

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
};
const fraction = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a fraction from 0 to 1');
  return n;
};
const count = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
};
const duration = (v: string) => (v === 'forever' ? Infinity : positive(v));

export function registerLoad(program: Command): void {
  program
    .command('load')
    .helpGroup('Operating:')
    .summary('offer a log a fixed submission rate (staging), with live SCT latency and inclusion checks')
    .description(
      'An open-loop load generator for a staging log: submits certificates and precertificates issued under ' +
        'a test CA at --rate per second in the --mix, for --duration seconds or forever, whatever the log answers ' +
        '(latency counts from the scheduled send time). Shows live progress on stderr (SCT latency percentiles, ' +
        'answers by status), serves Prometheus metrics on --listen, and verifies every Nth SCT and its inclusion ' +
        '(get-proof-by-hash against a fresh STH). Exits 1 if a sampled SCT or proof is bad or not included within the MMD, or if no submission got an SCT.',
    )
    .addOption(new Option('--url <url>', 'the log (shard) base URL, e.g. https://ct.example.com/2026h1/').env('CTLOG_LOAD_URL').makeOptionMandatory())
    .addOption(new Option('--key <key>', 'the log key (base64 DER SPKI or a PEM file): sampled SCTs and STHs are verified with it').env('CTLOG_LOAD_KEY'))
    .addOption(new Option('--log-list <file>', 'a v3 log list (`ctlog loglist`) listing --url: its key, MMD and NotAfter window are used').env('CTLOG_LOAD_LOG_LIST'))
    .addOption(new Option('--rate <per-second>', 'submissions offered per second').env('CTLOG_LOAD_RATE').default(10).argParser(positive))
    .addOption(new Option('--duration <seconds|forever>', 'how long to run').env('CTLOG_LOAD_DURATION').default(60).argParser(duration))
    .addOption(new Option('--mix <spec>', 'relative weights of add-chain, add-pre-chain and add-pre-chain through a PSC').env('CTLOG_LOAD_MIX').default('add-chain=60,add-pre-chain=30,psc=10'))
    .addOption(new Option('--old <fraction>', 'share of certificates with a notBefore 200 days back (logged late)').default(0.1).argParser(fraction))
    .addOption(new Option('--duplicates <fraction>', 'share of requests that resubmit a chain sent before').default(0.05).argParser(fraction))
    .addOption(new Option('--not-after <time>', 'leaf NotAfter, RFC 3339, inside the shard\'s window (default: in 90 days, moved into the window --log-list gives)').env('CTLOG_LOAD_NOT_AFTER'))
    .addOption(new Option('--ca-cert <pem>', 'test CA certificate (then its chain up to a root the log accepts)').env('CTLOG_LOAD_CA_CERT'))
    .addOption(new Option('--ca-key <pem>', 'the test CA private key (PKCS#8 PEM)').env('CTLOG_LOAD_CA_KEY'))
    .option('--demo-ca', 'issue under the demo root (demo/, NOT TRUSTED: for a local or staging log that accepts it)', false)
    .addOption(new Option('--inclusion-every <n>', 'verify every nth SCT and follow it until included (0: none)').env('CTLOG_LOAD_INCLUSION_EVERY').default(100).argParser(count))
    .addOption(new Option('--mmd <seconds>', 'a sampled SCT not included after this long is an error (default: from --log-list, else 86400)').argParser(positive))
    .addOption(new Option('--drain <seconds>', 'after the run, wait this long at most for sampled SCTs still pending').default(30).argParser(positive))
    .addOption(new Option('--max-in-flight <n>', 'unanswered requests at most; beyond, a scheduled request is dropped and counted').default(2000).argParser(positive))
    .addOption(new Option('--sockets <n>', 'keep-alive connections').default(64).argParser(positive))
    .addOption(new Option('--timeout <seconds>', 'per request').default(30).argParser(positive))
    .addOption(new Option('--progress <seconds>', 'progress every so often (default: 1 on a terminal, rewriting one line; else 10)').argParser(positive))
    .addOption(new Option('--listen <host:port>', 'serve Prometheus /metrics here while running').env('CTLOG_LISTEN'))
    .action(async (o: {
      url: string; key?: string; rate: number; duration: number; mix: string; old: number; duplicates: number; notAfter?: string;
      caCert?: string; caKey?: string; demoCa: boolean; inclusionEvery: number; mmd?: number; logList?: string; drain: number; maxInFlight: number;
      sockets: number; timeout: number; listen?: string; progress?: number;
    }) => {
      const { LoadGenerator, formatSnapshot } = await import('../../cli/load/load-generator.js');
      const { parseMixWeights } = await import('../../cli/load/load-mix.js');
      const { parseLogKey, targetsFromLogList } = await import('../../cli/monitor/monitor-targets.js');
      const { readFileSync } = await import('node:fs');
      const { TestIssuer, demoCaFiles } = await import('../../cli/test-issuer.js');
      const { serveMetrics } = await import('../../cli/metrics-server.js');
      let weights, key, listed;
      const norm = (u: string) => (u.endsWith('/') ? u : `${u}/`);
      try {
        new URL(o.url);
        weights = parseMixWeights(o.mix);
        key = o.key ? parseLogKey(o.key) : undefined;
        if (o.logList) {
          listed = targetsFromLogList(readFileSync(o.logList, 'utf8'), o.logList).targets.find((t) => norm(t.url) === norm(o.url));
          if (!listed) throw new Error(`--url ${o.url} is not a log in ${o.logList}`);
          key ??= listed.key;
        }
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const now = Date.now();
      let notAfter = o.notAfter !== undefined ? Date.parse(o.notAfter) : now + 90 * 86400_000;
      if (!Number.isFinite(notAfter)) throw new UsageError('--not-after takes an RFC 3339 time, e.g. 2027-03-01T00:00:00Z');
      const w = listed?.notAfterWindow;
      if (o.notAfter === undefined && w && (notAfter < w.start || notAfter >= w.end)) notAfter = Math.floor(w.start + (w.end - w.start) / 2);
      const mmd = o.mmd ?? listed?.mmdSeconds ?? 86400;
      if (Boolean(o.caCert) !== Boolean(o.caKey)) throw new UsageError('--ca-cert and --ca-key go together');
      if (!o.caCert && !o.demoCa) throw new UsageError('no test CA: give --ca-cert and --ca-key, or --demo-ca for a log that accepts the demo root');
      const ca = o.caCert ? { cert: o.caCert, key: o.caKey! } : demoCaFiles();
      const tty = process.stderr.isTTY;
      const gen = new LoadGenerator({
        url: o.url,
        key,
        ratePerSecond: o.rate,
        durationMs: o.duration * 1000,
        mix: { weights, old: o.old, duplicates: o.duplicates },
        issuer: TestIssuer.fromFiles(ca.cert, ca.key, now),
        notAfter,
        inclusionEvery: o.inclusionEvery,
        mmdSeconds: mmd,
        drainMs: o.drain * 1000,
        maxInFlight: o.maxInFlight,
        sockets: o.sockets,
        timeoutMs: o.timeout * 1000,
        // A terminal gets one line rewritten every second; a log file a line every 10 s.
        progressMs: (o.progress ?? (tty ? 1 : 10)) * 1000,
        onProgress: (s) => process.stderr.write(tty ? `\r\x1b[K${formatSnapshot(s, o.rate)}` : `${formatSnapshot(s, o.rate)}\n`),
      });
      const metrics = o.listen ? await serveMetrics(gen.metrics.registry, o.listen) : undefined;
      process.stderr.write(`ctlog load: ${o.rate}/s to ${o.url} for ${o.duration === Infinity ? 'ever (Ctrl-C stops)' : `${o.duration} s`}${metrics ? `; metrics on ${metrics.url}/metrics` : ''}\n`);
      const stop = () => gen.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const s = await gen.run();
      metrics?.server.close();
      if (tty) process.stderr.write('\n');
      process.stdout.write(`ctlog load: done. ${formatSnapshot(s, o.rate)}\n`);
      for (const e of s.errors) process.stdout.write(`  ${e}\n`);
      const bad = s.inclusion.badSct + s.inclusion.badProof + s.inclusion.overdue;
      if (s.sent > 0 && !s.byStatus[200]) process.stdout.write(`  no submission got an SCT: check --url (the shard's base URL, ending in its prefix) and that the log accepts the CA's root\n`);
      process.exitCode = bad > 0 || (s.sent > 0 && !s.byStatus[200]) ? 1 : 0;
    });
}
