// `ctlog ctfe --workers 2` and `ctlog serve --workers 2` as an operator runs them (MariaDB,
// Redis, real processes): the per-client limit holds for the group, not per worker, although
// node:cluster hands each new connection to the next worker; /metrics answers for the whole
// group from whichever worker is asked; a worker that dies is replaced; SIGTERM stops all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dropMysqlDatabase } from '../../src/storage/database.js';
import { MYSQL_BASE, REDIS_URL, freshPrefix } from '../helpers/services.js';
import { ProcessGroup, REPO, type Server } from './processes.js';

const BURST = 8;

/** One POST on a connection of its own (no keep-alive): each may land on another worker. */
function postFresh(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** get-sth over a connection of its own (so that successive calls land on different workers): its tree_size. */
function sthFresh(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve((JSON.parse(text) as { tree_size: number }).tree_size));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The worker pids of a primary: its children, from /proc. */
function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('worker processes sharing one port', () => {
  const group = new ProcessGroup();
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-workers-'));
  const data = join(dir, 'data');
  const config = join(dir, 'shards.yaml');
  const dbUrl = `${MYSQL_BASE}/ctlog_workers_${randomBytes(6).toString('hex')}`;
  const prefix = freshPrefix();
  let common: string[];
  let queue: string[];

  before(async () => {
    mkdirSync(join(data, 'keys'), { recursive: true });
    writeFileSync(join(data, 'queue.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    // A slow refill: what a client gets within the test is its burst, plus a token or two.
    writeFileSync(
      config,
      `log:
  rate_limit: { per_second: 0.5, burst: ${BURST} }
  admission: { shed_lag_ms: 60000, max_queue_delay_ms: 600000, max_latency_ms: 600000 }
shards:
  - name: now
    prefix: /now
    not_after_start: 2026-01-01T00:00:00Z
    not_after_limit: 2030-01-01T00:00:00Z
    roots: ${join(REPO, 'demo', 'demo-root.pem')}
`,
    );
    common = ['--config', config, '--data', data, '--database', dbUrl];
    queue = ['--redis', REDIS_URL, '--redis-prefix', prefix.prefix];
    await group.run(['keygen', '--out', join(data, 'keys', 'now.pem')]);
    await group.run(['migrate', ...common]);
    await group.run(['shard', 'create', 'now', ...common]);
  });

  after(async () => {
    await group.stop(45_000);
    await dropMysqlDatabase(dbUrl).catch(() => undefined);
    await prefix.delete().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('ctlog ctfe --workers 2', () => {
    let ctfe: Server;
    before(async () => {
      ctfe = await group.serve(['ctfe', ...common, ...queue, '--workers', '2', '--listen', '127.0.0.1:0']);
    });

    test('says how many workers serve, and runs them', () => {
      assert.match(ctfe.output(), /2 worker processes/);
      assert.equal(childrenOf(ctfe.proc.pid!).length, 2);
    });

    test("one client's fresh connections get 429 at its budget, not at twice it", async () => {
      const t0 = performance.now();
      const codes: number[] = [];
      // Not valid chains: a request the limit lets through answers 400 after it took its token.
      for (let i = 0; i < 4 * BURST; i++) codes.push(await postFresh(`${ctfe.url}/now/ct/v1/add-pre-chain`, '{"chain":[]}'));
      const seconds = (performance.now() - t0) / 1000;
      const allowed = codes.filter((c) => c !== 429).length;
      assert.ok(codes.every((c) => c === 400 || c === 429), `only 400 and 429: ${codes.join(' ')}`);
      assert.ok(allowed >= BURST, `the budget (${BURST}) is allowed: ${codes.join(' ')}`);
      assert.ok(allowed <= BURST + Math.ceil(seconds * 0.5) + 1, `${allowed} allowed in ${seconds.toFixed(1)} s with a budget of ${BURST} at 0.5/s: ${codes.join(' ')}`);

      // /metrics, asked on any connection, counts every worker's answers.
      const text = await (await fetch(`${ctfe.url}/metrics`)).text();
      assert.equal(sample(text, 'ctlog_workers{state="running"}'), 2);
      assert.equal(sample(text, 'ctlog_workers{state="reporting"}'), 2);
      assert.equal(sample(text, 'ctlog_http_requests_total{shard="now",endpoint="add-pre-chain",code="429"}'), codes.length - allowed);
      assert.equal(sample(text, 'ctlog_http_requests_total{shard="now",endpoint="add-pre-chain",code="400"}'), allowed);
      // Three processes' memory: the primary and two workers.
      assert.ok(sample(text, 'ctlog_process_resident_memory_bytes')! > 3 * 20e6, 'resident memory summed over the group');
    });

    test('a worker that dies is replaced; the port keeps answering', async () => {
      const [victim] = childrenOf(ctfe.proc.pid!);
      process.kill(victim!, 'SIGKILL');
      await until('a new worker', () => {
        const now = childrenOf(ctfe.proc.pid!);
        return now.length === 2 && !now.includes(victim!) ? now : undefined;
      });
      const text = await until('the replacement to report', async () => {
        const t = await (await fetch(`${ctfe.url}/metrics`)).text();
        return sample(t, 'ctlog_workers{state="reporting"}') === 2 ? t : undefined;
      });
      assert.equal(sample(text, 'ctlog_worker_restarts_total'), 1);
      for (let i = 0; i < 4; i++) assert.equal((await fetch(`${ctfe.url}/livez`)).status, 200);
    });

    test('SIGTERM stops the primary and every worker, exit code 0', async () => {
      const workers = childrenOf(ctfe.proc.pid!);
      ctfe.proc.kill('SIGTERM');
      assert.equal(await ctfe.exited, 0);
      for (const pid of workers) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} is gone`);
    });
  });

  test('ctlog serve --workers 2: the primary sequences, the workers answer submissions and reads', async () => {
    // A Redis prefix of its own: the ctfe tests above used up this client's budget.
    const own = freshPrefix();
    try {
      const serve = await group.serve(['serve', ...common, '--redis', REDIS_URL, '--redis-prefix', own.prefix, '--workers', '2', '--listen', '127.0.0.1:0']);
      assert.match(serve.output(), /ctlog serve listening on [^\n]*\n(.*\n)*.*2 worker processes/);
      // Only the primary sequences: one sequencer for the shard, whichever worker took the chain.
      assert.equal(childrenOf(serve.proc.pid!).length, 2);
      const body = await group.run(['demo-chain']);
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push(await postFresh(`${serve.url}/now/ct/v1/add-chain`, body));
      assert.deepEqual(codes, [200, 200, 200], 'the same chain three times: one entry, two duplicates');
      const size = await until('the entry in a signed tree head', async () => {
        const sth = (await (await fetch(`${serve.url}/now/ct/v1/get-sth`)).json()) as { tree_size: number };
        return sth.tree_size >= 1 ? sth.tree_size : undefined;
      });
      assert.equal(size, 1);
      // While the tree grows, a client whose every request lands on a worker of its own
      // never sees tree_size go backwards (the workers share the largest head served).
      const more = Promise.all([0, 1, 2, 3].map(async () => postFresh(`${serve.url}/now/ct/v1/add-chain`, await group.run(['demo-chain']))));
      const seen: number[] = [];
      for (let i = 0; i < 60; i++) seen.push(await sthFresh(`${serve.url}/now/ct/v1/get-sth`));
      assert.deepEqual(await more, [200, 200, 200, 200]);
      for (let i = 0; i < 20; i++) seen.push(await sthFresh(`${serve.url}/now/ct/v1/get-sth`));
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `tree_size went from ${seen[i - 1]} to ${seen[i]}: ${seen.join(' ')}`);
      const text = await (await fetch(`${serve.url}/metrics`)).text();
      assert.equal(sample(text, 'ctlog_sequenced_entries_total{shard="now",reason="new"}'), 5, "the primary's sequencer metrics are in the group's");
      assert.equal(sample(text, 'ctlog_http_requests_total{shard="now",endpoint="add-chain",code="200"}'), 7);
      serve.proc.kill('SIGTERM');
      assert.equal(await serve.exited, 0);
    } finally {
      await own.delete().catch(() => undefined);
    }
  });
});
