// The operator commands as an operator runs them: `ctlog keygen`, `shard create`, `shard
// status`, `loglist`, `demo-chain`, the flags of `monitor` and `load`, and the exit codes and
// messages of mistakes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { PublicKeyCache, RootStore, validateChain } from '../../src/x509/index.js';

const REPO = join(import.meta.dirname, '../..');
const run = promisify(execFile);

async function ctlog(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), ...args], { cwd: dir, env: { ...process.env, CTLOG_LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
let config: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ctlog-cli-'));
  config = join(dir, 'shards.yaml');
  writeFileSync(
    config,
    `log:\n  base_url: https://ct.example.org\n  operator: Example CT\nshards:\n` +
      `  - { name: t2027h1, not_after_start: 2027-01-01T00:00:00Z, not_after_limit: 2027-07-01T00:00:00Z, roots: ${join(REPO, 'demo/demo-root.pem')} }\n` +
      `  - { name: t2027h2, not_after_start: 2027-07-01T00:00:00Z, not_after_limit: 2028-01-01T00:00:00Z, roots: ${join(REPO, 'demo/demo-root.pem')}, state: read-only }\n`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('ctlog operator commands', () => {
  let logId = '';

  test('keygen writes a P-256 key with mode 0600 and prints its log id', async () => {
    const out = join(dir, 'data/keys/t2027h1.pem');
    const r = await ctlog('keygen', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const spki = createPublicKey(readFileSync(out, 'utf8')).export({ type: 'spki', format: 'der' });
    logId = createHash('sha256').update(spki).digest('base64');
    assert.match(r.stdout, new RegExp(`log id ${logId.replace(/[+/]/g, '\\$&')}`));
    const again = await ctlog('keygen', '--out', out);
    assert.notEqual(again.code, 0, 'refuses to overwrite a key');
    assert.match(again.stderr, /refusing to overwrite/);
  });

  test('shard create is explicit, once, and needs the key', async () => {
    const r = await ctlog('shard', 'create', 't2027h1', '--config', config, '--data', join(dir, 'data'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created shard t2027h1/);
    const twice = await ctlog('shard', 'create', 't2027h1', '--config', config, '--data', join(dir, 'data'));
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /already exists/);
    const noKey = await ctlog('shard', 'create', 't2027h2', '--config', config, '--data', join(dir, 'data'));
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /key file .*t2027h2\.pem does not exist; make one with `ctlog keygen/);
  });

  test('shard status lists every configured shard', async () => {
    const r = await ctlog('shard', 'status', '--config', config, '--data', join(dir, 'data'));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+STATE\s+TREE SIZE\s+STH AGE\s+NOT AFTER\s+PREFIX$/);
    assert.match(lines[1]!, /^t2027h1\s+active\s+0\s+\d+s\s+2027-01-01\.\.2027-07-01\s+\/t2027h1$/);
    assert.match(lines[2]!, /^t2027h2\s+not created/);
  });

  test('loglist prints the created shards in the v3 log list schema', async () => {
    const r = await ctlog('loglist', '--config', config, '--data', join(dir, 'data'));
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout);
    assert.equal(typeof list.version, 'string');
    assert.match(list.log_list_timestamp, /^\d{4}-\d\d-\d\dT/);
    const op = list.operators[0];
    assert.equal(op.name, 'Example CT');
    assert.equal(op.logs.length, 1, 'only shards that exist in the database');
    const log = op.logs[0];
    assert.equal(log.log_id, logId);
    assert.equal(createHash('sha256').update(Buffer.from(log.key, 'base64')).digest('base64'), logId, 'key hashes to log_id');
    assert.equal(log.url, 'https://ct.example.org/t2027h1/');
    assert.equal(log.mmd, 86400);
    assert.ok(log.state.usable.timestamp);
    assert.deepEqual(log.temporal_interval, { start_inclusive: '2027-01-01T00:00:00Z', end_exclusive: '2027-07-01T00:00:00Z' });
    const tiled = JSON.parse((await ctlog('loglist', '--tiled', '--config', config, '--data', join(dir, 'data'))).stdout);
    assert.equal(tiled.operators[0].tiled_logs[0].monitoring_url, 'https://ct.example.org/t2027h1/');
  });

  test('shard create --all: a key and a shard for every configured shard, idempotent', async () => {
    const data = ['--config', config, '--data', join(dir, 'data')];
    const first = await ctlog('shard', 'create', '--all', ...data);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^shard t2027h1 exists \(id 1\), log id \S+: unchanged$/m);
    assert.match(first.stdout, /^created shard t2027h2 \(id 2\), log id \S+, new key .*t2027h2\.pem \(back it up/m);
    assert.equal(statSync(join(dir, 'data/keys/t2027h2.pem')).mode & 0o777, 0o600);
    const again = await ctlog('shard', 'create', '--all', ...data);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.stdout.trim().split('\n').map((l) => l.replace(/log id [A-Za-z0-9+/=]+/, 'log id X')), ['shard t2027h1 exists (id 1), log id X: unchanged', 'shard t2027h2 exists (id 2), log id X: unchanged']);
    // A key that does not match the shard's log id is never used, and the message says why.
    rmSync(join(dir, 'data/keys/t2027h2.pem'));
    assert.equal((await ctlog('keygen', '--out', join(dir, 'data/keys/t2027h2.pem'))).code, 0);
    const wrong = await ctlog('shard', 'create', '--all', ...data);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /shard t2027h2 exists in the database with log id \S+, but .*t2027h2\.pem has log id \S+: put the shard's original key back/);
  });

  test('demo-chain prints an add-chain body that the demo root accepts', async () => {
    for (const flags of [[], ['--precert'], ['--psc']]) {
      const r = await ctlog('demo-chain', ...flags);
      assert.equal(r.code, 0, r.stderr);
      const chain = (JSON.parse(r.stdout).chain as string[]).map((c) => new Uint8Array(Buffer.from(c, 'base64')));
      const v = validateChain(flags.length ? 'precert' : 'x509', chain, {
        roots: RootStore.fromPem(readFileSync(join(REPO, 'demo/demo-root.pem'), 'utf8')),
        notAfterStart: 0,
        notAfterLimit: 4e12,
        now: Date.now(),
      }, new PublicKeyCache());
      assert.equal(v.kind, flags.length ? 'precert' : 'x509');
    }
  });

  const mistakes: Array<{ scenario: string; args: () => string[]; code: number; message: RegExp }> = [
    { scenario: 'no command', args: () => [], code: 2, message: /Usage: ctlog <command>/ },
    { scenario: 'unknown command', args: () => ['frobnicate'], code: 2, message: /unknown command 'frobnicate'/ },
    { scenario: 'unknown flag', args: () => ['loglist', '--bogus'], code: 2, message: /unknown option '--bogus'/ },
    { scenario: 'keygen without --out or --pkcs11', args: () => ['keygen'], code: 2, message: /give either --out FILE \(a PEM key file\) or --pkcs11 URI/ },
    { scenario: 'missing config file', args: () => ['loglist', '--config', join(dir, 'none.yaml')], code: 2, message: /none\.yaml: no such file; pass --config FILE or set CTLOG_CONFIG, or, in a container, mount your shards\.yaml there/ },
    { scenario: 'bad config field', args: () => { const f = join(dir, 'bad.yaml'); writeFileSync(f, 'shards:\n  - { name: a, not_after_start: soon, not_after_limit: 2027-07-01T00:00:00Z }\n'); return ['loglist', '--config', f]; }, code: 2, message: /bad configuration: .*not_after_start: must be an RFC 3339 UTC time/ },
    { scenario: 'shard without a subcommand', args: () => ['shard', '--config', config], code: 2, message: /shard needs a subcommand/ },
    { scenario: 'split process without a database', args: () => ['ctfe', '--config', config, '--data', join(dir, 'data')], code: 2, message: /needs --database and --redis/ },
    { scenario: 'ctfe on Redis without a queue key', args: () => ['ctfe', '--config', config, '--data', join(dir, 'no-key'), '--database', 'mysql://root@127.0.0.1:1/ctlog', '--redis', 'redis://127.0.0.1:1'], code: 2, message: /need a queue key: Redis is not trusted to say what gets signed; generate one with `openssl rand -hex 32`/ },
    { scenario: 'sequencer with a short queue key', args: () => { const f = join(dir, 'short.key'); writeFileSync(f, 'abcd'); return ['sequencer', '--config', config, '--database', 'mysql://root@127.0.0.1:1/ctlog', '--redis', 'redis://127.0.0.1:1', '--queue-key-file', f]; }, code: 2, message: /short\.key has 2 bytes, at least 32 are needed/ },
    { scenario: 'unknown shard subcommand', args: () => ['shard', 'frobnicate', '--config', config], code: 2, message: /unknown shard subcommand "frobnicate"; expected status \| create/ },
    { scenario: 'shard create without a name', args: () => ['shard', 'create', '--config', config], code: 2, message: /name a shard .* or pass --all/ },
    { scenario: 'shard create of an unknown shard', args: () => ['shard', 'create', 'nope', '--config', config], code: 2, message: /no shard named nope in .* \(it has t2027h1, t2027h2\)/ },
    { scenario: 'malformed --database', args: () => ['shard', 'status', '--database', 'mysql//root@db/ctlog'], code: 2, message: /option '--database <url>' argument 'mysql\/\/root@db\/ctlog' is invalid\. expected a URL like mysql:/ },
    { scenario: 'malformed --redis', args: () => ['ctfe', '--redis', 'localhost:6379'], code: 2, message: /option '--redis <url>' .* is invalid\. expected redis:\/\/ or rediss:\/\// },
    { scenario: 'malformed --listen', args: () => ['serve', '--listen', '6962'], code: 2, message: /option '--listen <host:port>' .* is invalid\. expected HOST:PORT/ },
    { scenario: 'malformed --workers', args: () => ['ctfe', '--workers', '0'], code: 2, message: /option '--workers <n>' .* is invalid\. expected a whole number from 1 to 256/ },
    { scenario: 'workers on the embedded default', args: () => ['serve', '--config', config, '--data', join(dir, 'data'), '--workers', '2'], code: 2, message: /--workers 2 needs --database and --redis: the embedded default/ },
    { scenario: 'database refuses connections', args: () => ['migrate', '--database', 'mysql://root@127.0.0.1:1/ctlog'], code: 1, message: /^ctlog: cannot reach the database at 127\.0\.0\.1:1 \(ECONNREFUSED\): check --database \/ CTLOG_DATABASE_URL, and that MariaDB is running\n$/ },
    { scenario: 'Redis refuses connections', args: () => { const f = join(dir, 'queue.key'); writeFileSync(f, randomBytes(32).toString('hex')); return ['sequencer', '--config', config, '--data', join(dir, 'data'), '--database', 'mysql://root@127.0.0.1:3306/ctlog_no_such_db', '--redis', 'redis://127.0.0.1:1', '--queue-key-file', f]; }, code: 1, message: /^ctlog: cannot reach Redis at 127\.0\.0\.1:1 \(ECONNREFUSED\): check --redis \/ CTLOG_REDIS_URL, and that Redis is running\n$/ },
    { scenario: 'database that does not exist', args: () => ['shard', 'status', '--config', config, '--database', 'mysql://root@127.0.0.1:3306/ctlog_no_such_db'], code: 1, message: /^ctlog: Unknown database 'ctlog_no_such_db': run `ctlog migrate` first/ },
    { scenario: 'monitor with no log', args: () => ['monitor', '--once'], code: 2, message: /no log to watch: give --log URL,KEY or --log-list FILE/ },
    { scenario: 'monitor --log without a key', args: () => ['monitor', '--log', 'https://ct.example.org/2027h1/'], code: 2, message: /want URL,KEY\[,mmd=SECONDS\]\[,frozen\]/ },
    { scenario: 'monitor --log with a bad key', args: () => ['monitor', '--log', 'https://ct.example.org/2027h1/,nokey'], code: 2, message: /neither base64 DER nor a readable PEM file/ },
    { scenario: 'monitor --interval 0', args: () => ['monitor', '--interval', '0'], code: 2, message: /option '--interval <seconds>' argument '0' is invalid\. expected a positive number of seconds/ },
    { scenario: 'monitor --log-list that is not a log list', args: () => ['monitor', '--log-list', config], code: 2, message: /is not JSON/ },
    { scenario: 'load without --url', args: () => ['load', '--demo-ca'], code: 2, message: /required option '--url <url>' not specified/ },
    { scenario: 'load without a test CA', args: () => ['load', '--url', 'http://127.0.0.1:1/x/'], code: 2, message: /no test CA: give --ca-cert and --ca-key, or --demo-ca/ },
    { scenario: 'load with a bad mix', args: () => ['load', '--url', 'http://127.0.0.1:1/x/', '--demo-ca', '--mix', 'add-chain=1,bogus=2'], code: 2, message: /want NAME=WEIGHT,\.\.\. with NAME add-chain, add-pre-chain or psc/ },
    { scenario: 'load with a bad duration', args: () => ['load', '--url', 'http://127.0.0.1:1/x/', '--duration', 'soon'], code: 2, message: /option '--duration <seconds\|forever>' argument 'soon' is invalid/ },
  ];
  // commander answers --help before any action runs: nothing is created, migrated or served.
  const everyCommand = [['serve'], ['ctfe'], ['sequencer'], ['read'], ['migrate'], ['shard'], ['shard', 'status'], ['shard', 'create'], ['keygen'], ['loglist'], ['monitor'], ['load'], ['demo-chain']];
  test('--help on every command prints its usage and acts on nothing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ctlog-help-'));
    try {
      for (const c of everyCommand) {
        const r = await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), ...c, '--help'], { cwd, env: { ...process.env, CTLOG_DATABASE_URL: 'mysql://root@127.0.0.1:1/none' } });
        assert.match(r.stdout, new RegExp(`^Usage: ctlog ${c.join(' ')} `), c.join(' '));
        assert.match(r.stdout, /Exit codes:/);
        assert.equal(r.stderr, '', `${c.join(' ')} --help wrote to stderr`);
      }
      assert.deepEqual(readdirSync(cwd), [], '--help created nothing (no data/, no keys, no SQLite file)');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  test('every flag of the serving commands is in --help with its environment variable', async () => {
    const help = (await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), 'serve', '--help'])).stdout;
    for (const [flag, env] of [['--config', 'CTLOG_CONFIG'], ['--data', 'CTLOG_DATA'], ['--listen', 'CTLOG_LISTEN'], ['--database', 'CTLOG_DATABASE_URL'], ['--redis', 'CTLOG_REDIS_URL'], ['--redis-prefix', 'CTLOG_REDIS_PREFIX']]) {
      assert.match(help, new RegExp(`${flag} <[^>]+>[\\s\\S]*?env:\\s+${env}\\)`), flag);
    }
    assert.match(help, /--create-shards/);
  });

  for (const m of mistakes) {
    test(`mistake: ${m.scenario} -> exit ${m.code} with a message`, async () => {
      const r = await ctlog(...m.args());
      assert.equal(r.code, m.code, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, m.message);
    });
  }
});
