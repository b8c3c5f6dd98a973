// The whole log with its shard keys in a PKCS#11 token (SoftHSM2 in a temporary directory,
// test/helpers/softhsm.ts), as an operator runs it: `ctlog keygen --pkcs11` makes each key
// pair in the token, shards.yaml names them by pkcs11: URI, and the log runs on the embedded
// SQLite default and as sequencer + ctfe + read on MariaDB + Redis. Every SCT, STH and
// checkpoint is verified with the token's public key through the same checks as the file-key
// runs (log-checks.ts). The CTFE and the read server run without the module or the PIN: only
// the sequencer opens the token. A wrong PIN or a missing key stops start-up with exit 2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dropMysqlDatabase } from '../../src/storage/database.js';
import { MYSQL_BASE, REDIS_URL, freshPrefix } from '../helpers/services.js';
import { createSoftHsm, type SoftHsm } from '../helpers/softhsm.js';
import { ecdsaSubmissions, realSubmissions, rsaSubmissions, type Submission } from './corpus.js';
import { prepareDir, shardsFromLogList } from './deployment.js';
import { checkConsistency, checkInclusion, checkStatic, checkEntries, getSth, pool, submit, waitForSize, type Endpoints, type Logged, type Sth } from './log-checks.js';
import { ProcessGroup, type Server } from './processes.js';

const DAY = 86400_000;
const TOKEN = 'ctlog-e2e';
let h: SoftHsm;
let corpus: Submission[] = [];
let rsaRootPem = '';
const now = Date.now();

before(async () => {
  h = createSoftHsm();
  h.initToken(TOKEN);
  // Every child process gets the module and the PIN file from the environment, never from shards.yaml.
  Object.assign(process.env, h.env);
  const rsa = await rsaSubmissions({ x509: 5, precert: 5, psc: 5 }, now, now + 90 * DAY);
  rsaRootPem = rsa.rootPem;
  corpus = [...realSubmissions(), ...ecdsaSubmissions({ x509: 40, precert: 20, psc: 15 }, now, now + 90 * DAY), ...rsa.submissions];
  corpus.sort(() => Math.random() - 0.5);
});
after(() => h?.remove());

/** Runs f with some variables removed from the environment the next child process gets. */
function without<T>(names: string[], f: () => T): T {
  const saved = names.map((n) => [n, process.env[n]] as const);
  for (const n of names) delete process.env[n];
  try {
    return f(); // ProcessGroup.start spawns synchronously, so the child sees this environment
  } finally {
    for (const [n, v] of saved) if (v !== undefined) process.env[n] = v;
  }
}

const MODES = ['embedded serve (SQLite)', 'sequencer + ctfe + read on MariaDB + Redis'] as const;

for (const mode of MODES) {
  const tag = mode.startsWith('embedded') ? 'sqlite' : 'mysql';
  describe(`whole log with PKCS#11 keys: ${mode}`, { concurrency: false }, () => {
    const group = new ProcessGroup();
    const uri = (s: string) => `pkcs11:token=${TOKEN};object=${tag}-${s}`;
    let dir = '';
    let common: string[] = [];
    let dbUrl: string | undefined;
    let prefix: ReturnType<typeof freshPrefix> | undefined;
    let ep: Endpoints;
    let servers: Server[] = [];
    const tokenKeys: Record<string, string> = {};
    const logged: Logged[] = [];

    before(async () => {
      const p = prepareDir(rsaRootPem);
      dir = p.dir;
      // The shards' keys are in the token: key: pkcs11:... under each shard's prefix line.
      const yaml = readFileSync(p.config, 'utf8').replace(/^(    prefix: \/(old|now)\n)/gm, (line, _l, name: string) => `${line}    key: ${uri(name)}\n`);
      assert.equal((yaml.match(/key: pkcs11:/g) ?? []).length, 2);
      writeFileSync(p.config, yaml);
      dbUrl = tag === 'mysql' ? `${MYSQL_BASE}/ctlog_e2e_${randomBytes(6).toString('hex')}` : undefined;
      prefix = tag === 'mysql' ? freshPrefix() : undefined;
      common = ['--config', p.config, '--data', p.data, ...(dbUrl ? ['--database', dbUrl] : [])];
      for (const s of ['old', 'now']) {
        const out = await group.run(['keygen', '--pkcs11', uri(s)]);
        tokenKeys[s] = /^public key (\S+)$/m.exec(out)![1]!;
      }
      const listen = ['--listen', '127.0.0.1:0'];
      const queue = prefix ? ['--redis', REDIS_URL, '--redis-prefix', prefix.prefix] : [];
      if (tag === 'sqlite') {
        servers = [await group.serve(['serve', ...common, ...listen])];
        ep = { submitUrl: servers[0]!.url, readUrl: servers[0]!.url, shards: undefined as never };
      } else {
        await group.run(['migrate', ...common]);
        for (const s of ['old', 'now']) assert.match(await group.run(['shard', 'create', s, ...common]), new RegExp(`created shard ${s} `));
        const sequencer = await group.serve(['sequencer', ...common, ...queue, ...listen]);
        const noToken = ['CTLOG_PKCS11_MODULE', 'CTLOG_PKCS11_PIN_FILE', 'CTLOG_PKCS11_PIN', 'SOFTHSM2_CONF'];
        const ctfe = await without(noToken, () => group.serve(['ctfe', ...common, ...queue, ...listen]));
        const read = await without(noToken, () => group.serve(['read', ...common, ...queue, ...listen]));
        servers = [sequencer, ctfe, read];
        ep = { submitUrl: ctfe.url, readUrl: read.url, shards: undefined as never };
      }
      ep.shards = shardsFromLogList(await group.run(['loglist', ...common]));
    });
    after(async () => {
      await group.stop();
      if (dbUrl) await dropMysqlDatabase(dbUrl).catch(() => undefined);
      await prefix?.delete().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    });

    test("the log list's keys are the token's public key objects", () => {
      for (const s of ['old', 'now'] as const) assert.equal(Buffer.from(ep.shards[s].spki).toString('base64'), tokenKeys[s]);
    });

    test('every chain gets an SCT that verifies with the token key; STHs, proofs, entries and checkpoints verify', async () => {
      const early: Partial<Record<'old' | 'now', Sth>> = {};
      const first = corpus.slice(0, 30);
      logged.push(...(await pool(first, 32, (s) => submit(ep, s))));
      for (const s of ['old', 'now'] as const) early[s] = await waitForSize(ep, ep.shards[s], logged.filter((l) => l.sub.shard === s).length);
      logged.push(...(await pool(corpus.slice(30), 32, (s) => submit(ep, s))));
      assert.equal(logged.length, corpus.length);
      for (const s of ['old', 'now'] as const) {
        const mine = logged.filter((l) => l.sub.shard === s);
        const sth = await waitForSize(ep, ep.shards[s], mine.length);
        assert.equal(sth.tree_size, mine.length);
        await checkInclusion(ep, ep.shards[s], sth, mine);
        if (early[s]!.tree_size > 0) await checkConsistency(ep, ep.shards[s], early[s]!, sth);
        const hashes = await checkEntries(ep, ep.shards[s], sth, new Map(mine.map((l) => [l.index, l])));
        await checkStatic(ep, ep.shards[s], await getSth(ep, ep.shards[s]), hashes);
      }
      for (const s of servers) assert.equal(s.proc.exitCode, null, `a process exited:\n${s.output().slice(-2000)}`);
    });

    test('duplicates get the same SCT timestamp from the token-signed log', async () => {
      const again = await pool(logged.slice(0, 10), 10, (l) => submit(ep, l.sub));
      again.forEach((a, i) => assert.equal(a.timestamp, logged[i]!.timestamp));
    });

    if (tag === 'mysql') {
      test('a wrong PIN stops the sequencer at start-up with exit 2 and a clear message', async () => {
        const wrong = join(dir, 'wrong-pin');
        writeFileSync(wrong, '000000\n', { mode: 0o600 });
        const c = group.start(process.execPath, ['bin/ctlog.mjs', 'sequencer', ...common, '--redis', REDIS_URL, '--redis-prefix', prefix!.prefix, '--listen', '127.0.0.1:0'], { env: { CTLOG_PKCS11_PIN_FILE: wrong } });
        assert.equal(await c.exited, 2, c.output());
        assert.match(c.output(), new RegExp(`ctlog: log key: shard old: PKCS#11 key ${uri('old').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: token "${TOKEN}" refused the PIN from the PIN file ${wrong} \\(CKR_PIN_INCORRECT\\)`));
      });

      test('a missing key object stops `shard create` with exit 2 and says how to make it', async () => {
        const cfg = common[1]!;
        writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(`key: ${uri('now')}`, `key: ${uri('missing')}`));
        const c = group.start(process.execPath, ['bin/ctlog.mjs', 'shard', 'create', 'now', ...common]);
        assert.equal(await c.exited, 2, c.output());
        assert.match(c.output(), /has no private key with object=mysql-missing; create the key pair with `ctlog keygen --pkcs11 'pkcs11:token=ctlog-e2e;object=mysql-missing'`/);
      });
    }
  });
}
