// Every process follows the shards' states in the database within seconds, on its own
// timer, with no restart: the CTFE answers 403 for a shard that left 'active', its
// sequencer retires without stopping the process (the other shard goes on taking entries),
// the read server keeps serving. A state declared ahead in shards.yaml is applied at start.
// The `ctlog shard` commands refuse clearly (exit code 1, one line naming the fix).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLog, type RunningLog } from '../../src/bin/start-log.js';
import { loadIssuer, makeChain, makeIntermediate } from '../../src/cli/cert-factory.js';
import { runShardFreeze } from '../../src/cli/shard-freeze.js';
import { loadConfig } from '../../src/config/config.js';
import { loadSigner } from '../../src/config/key-file.js';
import { createShard } from '../../src/storage/shard-init.js';
import { b64 } from '../../src/util/bytes.js';
import { BACKENDS, freshDb, writeKey, type TestDb } from '../helpers/services.js';

const REPO = resolve(import.meta.dirname, '../..');
const quiet = { info() {}, warn() {}, error() {}, debug() {} } as never;

for (const backend of BACKENDS) {
  describe(`shard states followed at run time on ${backend}`, () => {
    let db: TestDb;
    let dir: string;
    let run: RunningLog;
    let fatal: Error | undefined;
    const root = loadIssuer(readFileSync(join(REPO, 'demo/demo-root.pem'), 'utf8'), readFileSync(join(REPO, 'demo/demo-root-key.pem'), 'utf8'));
    const intermediate = makeIntermediate(root, Date.now());
    const submit = (shard: string, notAfter: string) =>
      fetch(`${run.url}/${shard}/ct/v1/add-chain`, { method: 'POST', body: JSON.stringify({ chain: makeChain(intermediate, { kind: 'x509', notBefore: Date.now() - 3600_000, notAfter: Date.parse(notAfter) }).map(b64) }) });

    before(async () => {
      db = await freshDb(backend);
      dir = mkdtempSync(join(tmpdir(), 'ctlog-follow-'));
      const shard = (name: string, from: string, to: string, extra = '') =>
        `  - name: ${name}\n    not_after_start: ${from}\n    not_after_limit: ${to}\n    key: ${writeKey(dir, name)}\n    roots: ${join(REPO, 'demo/demo-root.pem')}\n    sth_interval_ms: 100\n    pool_period_ms: 5\n${extra}`;
      writeFileSync(join(dir, 'shards.yaml'), `shards:\n${shard('a', '2025-01-01T00:00:00Z', '2099-01-01T00:00:00Z')}${shard('b', '2099-01-01T00:00:00Z', '2100-01-01T00:00:00Z')}${shard('c', '2000-01-01T00:00:00Z', '2001-01-01T00:00:00Z', '    state: read-only\n')}`);
      const config = loadConfig(join(dir, 'shards.yaml'), db.dataDir);
      for (const s of config.shards) await createShard(db.storage, s.name, loadSigner(s.keyFile), Date.now());
      run = await startLog({
        roles: ['ctfe', 'sequencer', 'read'], configFile: join(dir, 'shards.yaml'), dataDir: db.dataDir, listen: '127.0.0.1:0', databaseUrl: db.url,
        migrate: true, statePollMs: 200, log: quiet, onFatal: (e) => (fatal = e),
      });
    });
    after(async () => {
      await run.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a state declared ahead in shards.yaml is applied to the database at start', async () => {
      assert.equal((await db.storage.getShard('c'))!.state, 'read-only');
      assert.equal((await submit('c', '2000-06-01T00:00:00Z')).status, 403);
    });

    test('freeze while running: the CTFE answers 403 within seconds, the sequencer retires, the other shard goes on', async () => {
      assert.equal((await submit('a', '2026-06-01T00:00:00Z')).status, 200);
      const other = db.open();
      const config = loadConfig(join(dir, 'shards.yaml'), db.dataDir);
      await runShardFreeze({ storage: other, config, name: 'a', settleMs: 500, out: () => {} });
      const t0 = Date.now();
      let r: Response;
      for (;;) {
        r = await submit('a', '2026-06-01T00:00:00Z');
        if (r.status !== 200 || Date.now() - t0 > 5000) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(r.status, 403);
      assert.match((await r.json()).error, /shard a is (read-only|frozen) and accepts no new entries; submit to an active shard: \/b/);
      assert.ok(Date.now() - t0 < 3000, 'followed within seconds');
      assert.ok(run.sequencers!.sequencers.get('a')!.isRetired);
      assert.equal(fatal, undefined, 'the process goes on');
      const b = await submit('b', '2099-06-01T00:00:00Z');
      assert.equal(b.status, 200, 'the other shard still takes entries');
      const head = (await db.storage.getShard('a'))!.head;
      await new Promise((res) => setTimeout(res, 500));
      const sth = await (await fetch(`${run.url}/a/ct/v1/get-sth`)).json();
      assert.equal(sth.timestamp, head.timestamp, 'the final STH, not re-signed');
      assert.equal(sth.tree_size, 1);
    });

    test('ctlog shard commands refuse clearly: exit code 1, one line with the fix', () => {
      const ctlog = (...args: string[]) =>
        spawnSync(process.execPath, [join(REPO, 'bin/ctlog.mjs'), ...args, '--config', join(dir, 'shards.yaml'), '--data', db.dataDir, ...(db.url ? ['--database', db.url] : [])], { encoding: 'utf8' });
      let r = ctlog('shard', 'freeze', 'nope');
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^ctlog: no shard named "nope" in the database \(shards: a, b, c\)\n$/);
      r = ctlog('shard', 'export', 'b', '--out', join(dir, 'x'));
      assert.equal(r.status, 1);
      assert.match(r.stderr, /shard b is active: only a frozen shard can be exported .* run `ctlog shard freeze b` first/);
      r = ctlog('shard', 'prune', 'a');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /shard a is frozen: prune deletes its rows, so it needs a verified export first/);
    });
  });
}
