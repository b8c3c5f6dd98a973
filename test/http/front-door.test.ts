// The HTTP front door of a serving process (startLog on the embedded default): slow clients
// are cut at the configured limits, and the connection cap holds. Probes of issue 10: slow
// clients were cut after ~46 s, not the 20 s / 30 s the code stated, because node checks
// those timeouts only every connectionsCheckingInterval (30 s by default); and there was no
// connection cap.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLog, type RunningLog } from '../../src/bin/start-log.js';
import { createLogger } from '../../src/log/logger.js';

const DEMO = resolve(import.meta.dirname, '../../demo');

describe('HTTP limits of a serving process', () => {
  let dir: string;
  let running: RunningLog;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctlog-frontdoor-'));
    writeFileSync(
      join(dir, 'shards.yaml'),
      `log:
  http: { headers_timeout_ms: 1000, request_timeout_ms: 2000, max_connections: 20 }
defaults: { roots: [${join(DEMO, 'demo-root.pem')}] }
shards:
  - { name: s1, not_after_start: 2000-01-01T00:00:00Z, not_after_limit: 2100-01-01T00:00:00Z }
`,
    );
    running = await startLog({ roles: ['ctfe', 'sequencer', 'read'], configFile: join(dir, 'shards.yaml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', log: createLogger({ level: 'error', write: () => {} }) });
    port = Number(new URL(running.url).port);
  });
  after(async () => {
    await running.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a socket, runs `talk` on it, and resolves with the ms until the server closed it and what it answered. */
  const timeToCut = (talk: (s: Socket) => void): Promise<{ ms: number; answer: string }> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      let answer = '';
      const s = connect(port, '127.0.0.1', () => talk(s));
      s.on('data', (d) => (answer += d.toString()));
      s.on('error', () => {});
      s.on('close', () => resolve({ ms: performance.now() - t0, answer }));
      setTimeout(() => (s.destroy(), reject(new Error('not cut within 15 s'))), 15_000).unref();
    });

  test('headers sent one byte a second are cut at headers_timeout_ms (1 s), within the 1 s check interval', async () => {
    const { ms, answer } = await timeToCut((s) => {
      const head = 'GET /s1/ct/v1/get-sth HTTP/1.1\r\nHost: x\r\nX-Slow: ';
      s.write(head);
      const drip = setInterval(() => (s.writable ? s.write('a') : clearInterval(drip)), 1000);
      s.on('close', () => clearInterval(drip));
    });
    assert.ok(ms >= 900 && ms < 3500, `cut after ${Math.round(ms)} ms, want 1000-3000`);
    assert.match(answer, /^HTTP\/1\.1 408 |^$/);
  });

  test('a body sent slowly is cut at request_timeout_ms (2 s)', async () => {
    const { ms } = await timeToCut((s) => {
      s.write('POST /s1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"chain":["');
      const drip = setInterval(() => (s.writable ? s.write('A') : clearInterval(drip)), 200);
      s.on('close', () => clearInterval(drip));
    });
    assert.ok(ms >= 1900 && ms < 4500, `cut after ${Math.round(ms)} ms, want 2000-4000`);
  });

  test('connections past max_connections are closed at once and counted', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        await new Promise((r) => s.once('connect', r));
        held.push(s);
      }
      await new Promise((r) => setTimeout(r, 100));
      const { ms } = await timeToCut(() => {});
      assert.ok(ms < 1000, `the 21st connection was closed after ${Math.round(ms)} ms`);
    } finally {
      for (const s of held) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(`${running.url}/metrics`);
    assert.match(await r.text(), /ctlog_refused_total\{shard="",endpoint="",reason="connection_limit"\} [1-9]/);
  });
});
