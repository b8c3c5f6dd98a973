// `ctlog load` and `ctlog monitor --once` as an operator runs them, against an embedded
// `ctlog serve` child process: the load generator holds its rate with live progress and
// metrics, every sampled SCT is proven included, and the monitor then finds the log (with
// every entry the load added) correct.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LatencySummary } from '../../src/cli/load/latency-summary.js';
import { parseMixWeights, pick } from '../../src/cli/load/load-mix.js';
import { ProcessGroup, freePort, type Server } from '../e2e/processes.js';

const DEMO = resolve(import.meta.dirname, '../../demo');

describe('ctlog load against ctlog serve', () => {
  const group = new ProcessGroup();
  let dir: string;
  let server: Server;
  let list: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctlog-load-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'shards.yaml'),
      `log: { base_url: http://127.0.0.1:${port} }
defaults: { roots: [${join(DEMO, 'demo-root.pem')}], mmd: 10, sth_interval_ms: 250 }
shards:
  - { name: s1, not_after_start: 2000-01-01T00:00:00Z, not_after_limit: 2100-01-01T00:00:00Z }
`,
    );
    const common = ['--config', join(dir, 'shards.yaml'), '--data', join(dir, 'data')];
    server = await group.serve(['serve', ...common, '--listen', `127.0.0.1:${port}`]);
    list = join(dir, 'loglist.json');
    const text = await group.run(['loglist', ...common]);
    writeFileSync(list, text);
  });
  after(async () => {
    await group.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('runs the staging mix at a fixed rate with progress and metrics; every sampled SCT is included', async () => {
    const metricsPort = await freePort();
    const child = group.start(process.execPath, [
      resolve(import.meta.dirname, '../../bin/ctlog.mjs'), 'load', '--url', `${server.url}/s1/`, '--demo-ca',
      '--rate', '20', '--duration', '4', '--inclusion-every', '5', '--drain', '15', '--progress', '1',
      '--listen', `127.0.0.1:${metricsPort}`, '--log-list', list,
    ]);
    // Scrape the metrics while it runs.
    let scraped = '';
    for (let i = 0; i < 40 && !/ctlog_load_requests_total\{endpoint="add-chain",code="200"\}/.test(scraped); i++) {
      await new Promise((r) => setTimeout(r, 250));
      scraped = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text(), () => '');
    }
    assert.match(scraped, /ctlog_load_target_rate 20/);
    assert.match(scraped, /ctlog_load_sct_latency_seconds_bucket\{le="[^"]+",endpoint="add-chain"\}/);
    const code = await child.exited;
    const out = child.output();
    assert.equal(code, 0, out);
    assert.match(out, /^\d+s sent \d+ answered \d+ .* SCT p50/m, 'progress lines');
    const done = /ctlog load: done\. \S+ sent (\d+) answered (\d+) .*\| 200:(\d+) \| SCT p50 \S+ p90 \S+ p99 \S+ .*inclusion (\d+)\/(\d+) ok, 0 pending/.exec(out);
    assert.ok(done, out);
    const [sent, answered, ok, included, sampled] = done.slice(1).map(Number) as [number, number, number, number, number];
    assert.equal(sent, 80, '4 s x 20/s, each sent on its schedule');
    assert.equal(answered, sent);
    assert.equal(ok, sent, 'every submission (new and duplicate) got an SCT');
    assert.ok(sampled >= 10 && included === sampled, out);
  });

  test('ctlog monitor (continuous) serves its metrics and stops on SIGTERM with exit 0', async () => {
    const port = await freePort();
    const mon = await group.serve(['monitor', '--log-list', list, '--demo-ca', '--interval', '0.5', '--listen', `127.0.0.1:${port}`, '--state', join(dir, 'monitor-continuous.json')]);
    let text = '';
    for (let i = 0; i < 60 && !/ctlog_monitor_inclusion_latency_seconds_count\{[^}]*\} [1-9]/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 250));
      text = await fetch(`${mon.url}/metrics`).then((r) => r.text());
    }
    assert.match(text, /ctlog_monitor_inclusion_latency_seconds_count\{[^}]*\} [1-9]/, 'a canary was included');
    assert.match(text, /ctlog_monitor_check_last_success_timestamp_seconds\{log="[^"]+",check="consistency"\}/);
    assert.equal((await fetch(`${mon.url}/readyz`)).status, 200);
    mon.proc.kill('SIGTERM');
    assert.equal(await mon.exited, 0, mon.output());
    assert.doesNotMatch(mon.output(), /monitor alarm/);
  });

  test('ctlog monitor --once then finds the log correct, entries and canaries included', async () => {
    const out = await group.run(['monitor', '--once', '--log-list', list, '--demo-ca', '--entries', '10000', '--state', join(dir, 'monitor.json')]);
    assert.match(out, /1 log\(s\) passed every check, canaries included/);
  });
});

describe('load mix and latency summary', () => {
  test('the mix follows its weights and fractions', () => {
    const mix = { weights: parseMixWeights('add-chain=60,add-pre-chain=30,psc=10'), old: 0.1, duplicates: 0.05 };
    let seed = 1;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const n = 20_000;
    const c = { x509: 0, precert: 0, psc: 0, old: 0, dup: 0 };
    for (let i = 0; i < n; i++) {
      const p = pick(mix, random);
      c[p.kind]++;
      if (p.old) c.old++;
      if (p.duplicate) c.dup++;
    }
    const near = (got: number, want: number) => assert.ok(Math.abs(got / n - want) < 0.02, `${got / n} vs ${want}`);
    near(c.x509, 0.6);
    near(c.precert, 0.3);
    near(c.psc, 0.1);
    near(c.old, 0.1);
    near(c.dup, 0.05);
    assert.throws(() => parseMixWeights('add-chain=1,foo=2'), /add-chain, add-pre-chain or psc/);
    assert.throws(() => parseMixWeights('psc=0'), /every weight is 0/);
  });

  test('percentiles within 2%', () => {
    const s = new LatencySummary();
    for (let i = 1; i <= 1000; i++) s.add(i);
    for (const [q, want] of [[0.5, 500], [0.9, 900], [0.99, 990]] as const) {
      const got = s.quantile(q);
      assert.ok(got >= want && got <= want * 1.021, `p${q * 100} ${got} vs ${want}`);
    }
    assert.ok(Number.isNaN(new LatencySummary().quantile(0.5)));
  });
});
