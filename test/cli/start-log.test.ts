// startLog's shutdown, on the embedded default (SQLite, in-process queue): a SIGTERM in a
// rolling deploy must not cut off the CAs whose submissions are in flight. Their entries may
// already be committed; they must get their SCT, not a connection reset.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadIssuer, makeChain, makeIntermediate } from '../../src/cli/cert-factory.js';
import { startLog, type RunningLog } from '../../src/bin/start-log.js';
import { createLogger } from '../../src/log/logger.js';
import { readFileSync } from 'node:fs';

const DEMO = resolve(import.meta.dirname, '../../demo');

describe('startLog close()', () => {
  let dir: string;
  let running: RunningLog;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctlog-start-'));
    // A long pool period holds a lone submission in the sequencer's pool for 1.5 s.
    writeFileSync(
      join(dir, 'shards.yaml'),
      // No shedding on this shared test machine (test/ctfe/admission.test.ts tests it).
      `log: { base_url: http://127.0.0.1:6962, admission: { shed_lag_ms: 60000, max_queue_delay_ms: 600000, max_latency_ms: 600000 } }
defaults: { roots: [${join(DEMO, 'demo-root.pem')}], pool_period_ms: 1500 }
shards:
  - { name: s1, not_after_start: 2000-01-01T00:00:00Z, not_after_limit: 2100-01-01T00:00:00Z }
`,
    );
    running = await startLog({
      roles: ['ctfe', 'sequencer', 'read'],
      configFile: join(dir, 'shards.yaml'),
      dataDir: join(dir, 'data'),
      listen: '127.0.0.1:0',
      log: createLogger({ level: 'error', write: () => {} }),
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('answers the submissions in flight before closing the connections; idempotent', async () => {
    const root = loadIssuer(readFileSync(join(DEMO, 'demo-root.pem'), 'utf8'), readFileSync(join(DEMO, 'demo-root-key.pem'), 'utf8'));
    const now = Date.now();
    const chain = makeChain(makeIntermediate(root, now), { kind: 'x509', notBefore: now - 3600_000, notAfter: now + 86400_000 });
    const answer = fetch(`${running.url}/s1/ct/v1/add-chain`, {
      method: 'POST',
      body: JSON.stringify({ chain: chain.map((d) => Buffer.from(d).toString('base64')) }),
    }).then(
      async (r) => ({ status: r.status, body: await r.text() }),
      (err: Error) => ({ status: 0, body: `${err.message}: ${String((err.cause as Error | undefined)?.message)}` }),
    );
    await new Promise((r) => setTimeout(r, 300)); // the submission now waits in the pool
    const closing = running.close();
    const got = await answer;
    assert.equal(got.status, 200, `the in-flight add-chain got its SCT, not ${got.body}`);
    assert.match(got.body, /"sct_version":0/);
    await closing;
    await running.close(); // a second close is harmless
    await assert.rejects(fetch(`${running.url}/s1/ct/v1/get-sth`), 'the listener is closed');
  });
});
