// Interop with an independent monitor: Debian's certspotter (SSLMate) follows the log from
// `ctlog loglist` output, downloads every entry, verifies the tree against the signed STH and
// reports the watched certificates and precertificates. Installed from Debian's package when
// missing (as root); the test fails, never skips, when it cannot be.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ecdsaSubmissions, realSubmissions, rsaSubmissions, WATCH_DOMAIN } from './corpus.js';
import { prepareDir, shardsFromLogList } from './deployment.js';
import { getSth, pool, submit, waitForSize, type Endpoints } from './log-checks.js';
import { ProcessGroup, freePort, stopChild } from './processes.js';

const DAY = 86400_000;
const FOLLOW_TIMEOUT_MS = 45_000;

function certspotterVersion(): string | undefined {
  const r = spawnSync('certspotter', ['-version'], { encoding: 'utf8', timeout: 10_000 });
  return r.error ? undefined : (r.stdout + r.stderr).trim();
}

/** certspotter's version line; installs Debian's package first when missing and possible. */
function ensureCertspotter(): string {
  let v = certspotterVersion();
  if (v) return v;
  const how = 'install it with `apt-get install -y certspotter` (Debian package, as root) and run the test again';
  if (process.getuid?.() !== 0) assert.fail(`certspotter is not installed and this test is not running as root: ${how}`);
  const apt = spawnSync('apt-get', ['install', '-y', 'certspotter'], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  v = certspotterVersion();
  if (!v) assert.fail(`certspotter is not installed and \`apt-get install -y certspotter\` failed (${apt.error?.message ?? `exit ${apt.status}`}): ${(apt.stdout ?? '') + (apt.stderr ?? '')}\n${how}`.slice(-3000));
  return v;
}

const group = new ProcessGroup();
let dir = '';
let config = '';
let data = '';
let ep: Endpoints;
const watched = new Set<string>();
const sizes = { old: 0, now: 0 };

before(async () => {
  const now = Date.now();
  const rsa = await rsaSubmissions({ x509: 4, precert: 3, psc: 3 }, now, now + 90 * DAY);
  const port = await freePort(); // log.base_url must name the port the monitor connects to
  ({ dir, config, data } = prepareDir(rsa.rootPem, `http://127.0.0.1:${port}`));
  const server = await group.serve(['serve', '--config', config, '--data', data, '--listen', `127.0.0.1:${port}`]);
  const loglist = await group.run(['loglist', '--config', config, '--data', data]);
  writeFileSync(join(dir, 'loglist.json'), loglist);
  ep = { submitUrl: server.url, readUrl: server.url, shards: shardsFromLogList(loglist) };
  const subs = [...realSubmissions(), ...ecdsaSubmissions({ x509: 30, precert: 15, psc: 15 }, now, now + 90 * DAY), ...rsa.submissions];
  await pool(subs, 32, (s) => submit(ep, s));
  for (const s of subs) {
    sizes[s.shard]++;
    if (s.dnsName) watched.add(s.dnsName);
  }
  for (const s of ['old', 'now'] as const) await waitForSize(ep, ep.shards[s], sizes[s]);
});

after(async () => {
  await group.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface CertspotterState {
  verified_position?: { size: number };
  verified_sth?: { tree_size: number; sha256_root_hash: string };
}

test('certspotter follows both shards to their end, verifies them, and reports every watched certificate and precertificate', async () => {
  const version = ensureCertspotter();
  const stateDir = join(dir, 'certspotter-state');
  mkdirSync(stateDir);
  const watchlist = join(dir, 'watchlist');
  writeFileSync(watchlist, `.${WATCH_DOMAIN}\n`); // a leading dot: the domain and every subdomain
  // certspotter 0.16 has no batch mode: it monitors until killed. The state directory records,
  // per log, the verified STH and how far the entries were downloaded and verified against it.
  const cs = group.start('certspotter', ['-logs', join(dir, 'loglist.json'), '-watchlist', watchlist, '-state_dir', stateDir, '-start_at_end=false', '-stdout', '-verbose']);
  // certspotter names a log's state directory by its log ID in unpadded base64url.
  const logDir = (logId: string) => join(stateDir, 'logs', logId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
  const stateOf = (logId: string): CertspotterState | undefined => {
    const f = join(logDir(logId), 'state.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as CertspotterState) : undefined;
  };
  const logIds = (JSON.parse(readFileSync(join(dir, 'loglist.json'), 'utf8')) as { operators: Array<{ logs: Array<{ log_id: string; url: string }> }> }).operators[0]!.logs;
  const idOf = (s: 'old' | 'now') => logIds.find((l) => new URL(l.url).pathname === `/${s}/`)!.log_id;
  const reported = () => new Set([...cs.output().matchAll(/DNS Name = (\S+)/g)].map((m) => m[1]!));
  const done = () =>
    (['old', 'now'] as const).every((s) => {
      const st = stateOf(idOf(s));
      return st?.verified_position?.size === sizes[s] && st.verified_sth?.tree_size === sizes[s];
    }) && [...watched].every((n) => reported().has(n));
  const until = Date.now() + FOLLOW_TIMEOUT_MS;
  while (!done() && Date.now() < until && cs.proc.exitCode === null) await new Promise((r) => setTimeout(r, 250));
  const exitedEarly = cs.proc.exitCode !== null;
  await stopChild(cs); // certspotter runs until killed
  const out = cs.output();
  const context = `certspotter (${version}) output:\n${out.slice(-4000)}`;
  assert.ok(!exitedEarly, `certspotter exited on its own (${cs.proc.exitCode}); ${context}`);
  for (const s of ['old', 'now'] as const) {
    const st = stateOf(idOf(s));
    assert.equal(st?.verified_position?.size, sizes[s], `shard ${s}: certspotter verified ${st?.verified_position?.size ?? 'no'} entries within ${FOLLOW_TIMEOUT_MS} ms, want ${sizes[s]}; ${context}`);
    assert.equal(st?.verified_sth?.tree_size, sizes[s], `shard ${s}: certspotter's verified STH size; ${context}`);
    const malformed = join(logDir(idOf(s)), 'malformed_entries');
    assert.deepEqual(existsSync(malformed) ? readdirSync(malformed) : [], [], `shard ${s}: certspotter found malformed entries; ${context}`);
  }
  const sth = await getSth(ep, ep.shards.now);
  assert.equal(stateOf(idOf('now'))?.verified_sth?.sha256_root_hash, sth.sha256_root_hash, 'certspotter verified the same root as get-sth');
  // Errors other than the cancellation our SIGTERM causes.
  const errors = out.split('\n').filter((l) => /error|fail|malformed|mismatch|invalid/i.test(l) && !/context canceled/.test(l));
  assert.deepEqual(errors, [], `certspotter reported errors; ${context}`);
  assert.deepEqual([...reported()].sort(), [...watched].sort(), `certspotter reports exactly the watched names; ${context}`);
});
