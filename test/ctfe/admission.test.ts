// Admission control of the CTFE (issue 10, "Admission that matches CT policy"): who a client
// is (IPv4 address or IPv6 /64, behind trusted proxies only), priority classes, per-issuer
// quotas, shedding before the body is read, and refusals counted by cause. The probes of the
// issue come first: each of them passed before the fix and must fail now.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { before, describe, test } from 'node:test';
import { createCtfe, TokenBucketRateLimiter, type Ctfe, type CtfeDeps } from '../../src/ctfe/index.js';
import { AdmissionLimit } from '../../src/ctfe/admission-limit.js';
import { QueueDelay } from '../../src/ctfe/queue-delay.js';
import { clientAddress, clientKey, TrustedProxies } from '../../src/http/client-address.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { InProcessQueue } from '../../src/queue/in-process-queue.js';
import { createSigner, generateLogKey } from '../../src/signing/index.js';
import { createPrivateKey } from 'node:crypto';
import { RootStore } from '../../src/x509/index.js';
import { generatedPki, type GeneratedPki } from './chains.js';
import { b64, issue, listen, post, shardConfig, x509, instantSequencer } from './harness.js';

const NOW = Date.parse('2026-02-01T00:00:00Z');
let pki: GeneratedPki;
let roots: RootStore;
/** add-chain bodies: fresh (notBefore 12 h before NOW), old (a month), carrying SCTs (fresh). */
let fresh: string[];
let old: string[];
let withScts: string[];
before(async () => {
  pki = await generatedPki();
  roots = RootStore.fromCerts([pki.root.der]);
  const leaf = (name: string, o: Parameters<typeof issue>[2]) => issue(name, pki.intRsa, o).then((n) => [b64(n.der), b64(pki.intRsa.der)]);
  fresh = await leaf('adm-fresh', { serial: 'a001', notBefore: '2026-01-31T12:00:00Z' });
  old = await leaf('adm-old', { serial: 'a002' });
  // RFC 6962 §3.3: an OCTET STRING wrapping a (here empty) SignedCertificateTimestampList.
  withScts = await leaf('adm-scts', { serial: 'a003', notBefore: '2026-01-31T12:00:00Z', extra: [new x509.Extension('1.3.6.1.4.1.11129.2.4.2', false, new Uint8Array([4, 2, 0, 0]))] });
});

const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));

const runtime = (): ShardRuntime => ({
  config: shardConfig({ name: 'h1', prefix: '/2026h1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z' }, '/nonexistent'),
  id: 1,
  logId: signer.logId,
  publicKey: signer.publicKeySpki,
  roots,
  origin: '127.0.0.1/2026h1',
});

/** A sequencer that answers at once with an SCT it signs without logging anything. */
const instant = instantSequencer(signer, NOW);

async function serve(extra: Partial<CtfeDeps> = {}): Promise<{ url: string; ctfe: Ctfe; close(): Promise<void> }> {
  const queue = new InProcessQueue({ lingerMs: 1 });
  await queue.consume('h1', instant);
  const ctfe = createCtfe({ queue, shards: [runtime()], clock: () => NOW, ...extra });
  const { server, url } = await listen(ctfe);
  return {
    url: `${url}/2026h1/ct/v1`,
    ctfe,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      await queue.close();
    },
  };
}

const statuses = async (n: number, send: (i: number) => Promise<{ status: number }>): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(i)).status);
  return out;
};

describe('probes of issue 10 (per_second: 1, burst: 2)', () => {
  const limiter = () => new TokenBucketRateLimiter({ ratePerSecond: 1, burst: 2, clock: () => NOW });
  const want = [200, 200, 429, 429, 429, 429, 429, 429];

  test('the same User-Agent: 200, 200, then six 429s', async () => {
    const s = await serve({ rateLimit: limiter() });
    try {
      assert.deepEqual(await statuses(8, () => post(`${s.url}/add-chain`, { chain: fresh }, { headers: { 'User-Agent': 'ca/1' } })), want);
    } finally {
      await s.close();
    }
  });

  test('rotating the User-Agent does not get a fresh bucket (was: eight 200s)', async () => {
    const s = await serve({ rateLimit: limiter() });
    try {
      assert.deepEqual(await statuses(8, (i) => post(`${s.url}/add-chain`, { chain: fresh }, { headers: { 'User-Agent': `ca/${i}` } })), want);
    } finally {
      await s.close();
    }
  });

  test('behind a trusted proxy, rotating the first X-Forwarded-For hop does not either (was: eight 200s)', async () => {
    // The proxy (127.0.0.1 here) appends the address it saw; the client wrote the rest.
    // `trustForwardedFor` is how the code before the fix was told it sat behind a proxy.
    const s = await serve({ rateLimit: limiter(), trustedProxies: new TrustedProxies(['127.0.0.1']), ...({ trustForwardedFor: true } as object) });
    try {
      const got = await statuses(8, (i) => post(`${s.url}/add-chain`, { chain: fresh }, { headers: { 'X-Forwarded-For': `10.9.${i}.1, 198.51.100.7` } }));
      assert.deepEqual(got, want);
      const other = await post(`${s.url}/add-chain`, { chain: fresh }, { headers: { 'X-Forwarded-For': '198.51.100.8' } });
      assert.equal(other.status, 200, 'another client behind the proxy has its own bucket');
    } finally {
      await s.close();
    }
  });
});

describe('client address and key', () => {
  const req = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
  const proxies = new TrustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
  const cases: Array<[string, string, string | string[] | undefined, TrustedProxies | undefined, string]> = [
    ['no proxies configured: the peer, X-Forwarded-For ignored', '203.0.113.5', '1.2.3.4', undefined, '203.0.113.5'],
    ['peer is not a trusted proxy: the peer', '203.0.113.5', '1.2.3.4', proxies, '203.0.113.5'],
    ['one trusted proxy: the entry it added', '10.1.1.1', '6.6.6.6, 198.51.100.1', proxies, '198.51.100.1'],
    ['a chain of trusted proxies is skipped', '10.1.1.1', '6.6.6.6, 198.51.100.1, 10.2.2.2, 192.0.2.7', proxies, '198.51.100.1'],
    ['several X-Forwarded-For headers are one list', '10.1.1.1', ['6.6.6.6', '198.51.100.2'], proxies, '198.51.100.2'],
    ['garbage where the client would be: the last trusted hop', '10.1.1.1', 'evil, 10.2.2.2', proxies, '10.2.2.2'],
    ['IPv4-mapped peer counts as IPv4', '::ffff:10.1.1.1', '198.51.100.3', proxies, '198.51.100.3'],
    ['IPv6 proxy', 'fd00::1', '2001:db8::1', proxies, '2001:db8::1'],
    ['no header from a proxy: the proxy', '10.1.1.1', undefined, proxies, '10.1.1.1'],
  ];
  for (const [name, peer, xff, tp, want] of cases) test(name, () => assert.equal(clientAddress(req(peer, xff), tp), want));

  const keys: Array<[string, string]> = [
    ['198.51.100.1', '198.51.100.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['2001:DB8:0001:0002:aaaa::1', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8::1.2.3.4', '2001:db8:0:0::/64'],
  ];
  for (const [ip, want] of keys) test(`key of ${ip} is ${want}`, () => assert.equal(clientKey(ip), want));

  test('a bad trusted proxy entry is refused by name', () => {
    for (const bad of ['10.0.0.0/33', 'example.org', '10.0.0.0/8/1', 'fd00::/129', '10.0.0.0/x']) assert.throws(() => new TrustedProxies([bad]), new RegExp(bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  });
});

describe('priority classes', () => {
  test('old notBefore and embedded SCTs are low priority: limited apart, while fresh ones and precerts pass', async () => {
    const metrics = new Metrics();
    const lowPriorityLimit = new TokenBucketRateLimiter({ ratePerSecond: 0.01, burst: 1, clock: () => NOW });
    const s = await serve({ metrics, admission: { lowPriorityLimit } });
    try {
      assert.equal((await post(`${s.url}/add-chain`, { chain: old })).status, 200, 'the first low-priority one fits the budget');
      const refused = await post(`${s.url}/add-chain`, { chain: old });
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After');
      assert.equal((await post(`${s.url}/add-chain`, { chain: withScts })).status, 503, 'a certificate carrying SCTs is low priority too');
      assert.equal((await post(`${s.url}/add-chain`, { chain: fresh })).status, 200, 'a fresh certificate is not');
      assert.equal((await post(`${s.url}/add-pre-chain`, { chain: pki.chains[2]!.ders.map(b64) })).status, 200, 'a precertificate is not');
      const text = await metrics.registry.metrics();
      assert.match(text, /ctlog_refused_total\{shard="h1",endpoint="add-chain",reason="low_priority_limited"\} 2/);
    } finally {
      await s.close();
    }
  });

  test('under load, low priority is shed first (at half the lag limit), then everything', async () => {
    const load = { lagMs: 0 };
    const metrics = new Metrics();
    const s = await serve({ metrics, admission: { load, shedLagMs: 100, lagMinPending: 0 } });
    try {
      const round = async () => [
        (await post(`${s.url}/add-chain`, { chain: old })).status,
        (await post(`${s.url}/add-chain`, { chain: fresh })).status,
        (await post(`${s.url}/add-pre-chain`, { chain: pki.chains[2]!.ders.map(b64) })).status,
      ];
      assert.deepEqual(await round(), [200, 200, 200]);
      load.lagMs = 60;
      assert.deepEqual(await round(), [503, 200, 200]);
      load.lagMs = 150;
      assert.deepEqual(await round(), [503, 503, 503]);
      const text = await metrics.registry.metrics();
      assert.match(text, /reason="low_priority_shed"\} 1/);
      assert.match(text, /ctlog_refused_total\{shard="h1",endpoint="add-pre-chain",reason="overloaded"\} 1/);
    } finally {
      await s.close();
    }
  });

  test('overload is refused before the body is read', async () => {
    const load = { lagMs: 1000 };
    const s = await serve({ admission: { load, lagMinPending: 0 } });
    try {
      const u = new URL(s.url);
      // Headers only: a body of 100 bytes is announced and never sent.
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(u.port), u.hostname, () => sock.write('POST /2026h1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n'));
        let got = '';
        sock.on('data', (d) => {
          got += d.toString();
          if (got.includes('\r\n\r\n')) (sock.destroy(), resolve(got));
        });
        sock.on('error', reject);
        setTimeout(() => (sock.destroy(), reject(new Error('no answer without a body'))), 3000);
      });
      assert.match(answer, /^HTTP\/1\.1 503 /);
      assert.match(answer, /Retry-After: 1/i);
    } finally {
      await s.close();
    }
  });
});

describe('per-issuer quota', () => {
  test('an issuing CA past its quota gets 429 with Retry-After; other CAs do not', async () => {
    const issuerLimit = new TokenBucketRateLimiter({ ratePerSecond: 0.5, burst: 2, clock: () => NOW });
    const metrics = new Metrics();
    const s = await serve({ metrics, admission: { issuerLimit } });
    try {
      // fresh and withScts and chains[2] (a precert) are all issued by the RSA intermediate.
      assert.equal((await post(`${s.url}/add-chain`, { chain: fresh })).status, 200);
      assert.equal((await post(`${s.url}/add-pre-chain`, { chain: pki.chains[2]!.ders.map(b64) })).status, 200);
      const refused = await post(`${s.url}/add-chain`, { chain: fresh });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '2');
      assert.match(String(refused.body.error), /issuing CA/);
      assert.equal((await post(`${s.url}/add-chain`, { chain: pki.chains[0]!.ders.map(b64) })).status, 200, 'a leaf of the root itself is another issuer');
      assert.match(await metrics.registry.metrics(), /reason="issuer_quota"\} 1/);
    } finally {
      await s.close();
    }
  });
});

describe('metrics', () => {
  test('the User-Agent is a bounded label, and each refusal is counted by cause', async () => {
    const metrics = new Metrics();
    const s = await serve({ metrics, rateLimit: new TokenBucketRateLimiter({ ratePerSecond: 0.01, burst: 1, clock: () => NOW }) });
    try {
      for (let i = 0; i < 80; i++) await post(`${s.url}/add-chain`, { chain: fresh }, { headers: { 'User-Agent': `bot${i}/1.0 (rotating)` } });
      const text = await metrics.registry.metrics();
      const agents = new Set([...text.matchAll(/ctlog_agent_submissions_total\{agent="([^"]+)"/g)].map((m) => m[1]));
      assert.ok(agents.size <= 51, `${agents.size} agent labels`);
      assert.ok(agents.has('other'), 'agents past the first 50 are "other"');
      assert.match(text, /ctlog_agent_submissions_total\{agent="bot0",reason="accepted"\} 1/);
      assert.match(text, /ctlog_refused_total\{shard="h1",endpoint="add-chain",reason="rate_limited"\} 79/);
    } finally {
      await s.close();
    }
  });
});

describe('queue delay', () => {
  test('QueueDelay: the minimum wait of the last window', () => {
    const d = new QueueDelay(100);
    d.observe(50, 0);
    d.observe(900, 10);
    assert.equal(d.standing(50), 0, 'the first window is not complete');
    assert.equal(d.standing(100), 50, 'a burst: one submission got through in 50 ms');
    d.observe(700, 150);
    d.observe(800, 160);
    assert.equal(d.standing(210), 700, 'a standing queue: every submission waited');
    assert.equal(d.standing(420), 0, 'nothing answered for two windows: no signal');
  });

  test('a pipeline with a standing wait over max_queue_delay_ms gets 503 before the body is read', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    // A sequencer that takes 250 ms a batch: every SCT waits at least that long.
    await queue.consume('h1', (subs) => new Promise((r) => setTimeout(() => r(instant(subs)), 250)));
    const metrics = new Metrics();
    const ctfe = createCtfe({ queue, shards: [runtime()], clock: () => NOW, metrics, admission: { maxQueueDelayMs: 200 } });
    const { server, url } = await listen(ctfe);
    try {
      const send = () => post(`${url}/2026h1/ct/v1/add-pre-chain`, { chain: pki.chains[2]!.ders.map(b64) });
      assert.deepEqual((await Promise.all([send(), send(), send()])).map((r) => r.status), [200, 200, 200]);
      await new Promise((r) => setTimeout(r, 550)); // the window of those answers closes
      const refused = await send();
      assert.equal(refused.status, 503);
      assert.match(String(refused.body.error), /SCTs take \d+ ms/);
      assert.equal(refused.headers.get('retry-after'), '1');
      await new Promise((r) => setTimeout(r, 1100)); // two windows without answers: no signal
      assert.equal((await send()).status, 200);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      await queue.close();
    }
  });
});

describe('lag with few submissions held', () => {
  test('a late event loop sheds nothing while fewer than lagMinPending submissions are held', async () => {
    // A slow or shared machine: the loop is late, but not because of our submissions.
    const s = await serve({ admission: { load: { lagMs: 5000 }, lagMinPending: 16 } });
    try {
      assert.equal((await post(`${s.url}/add-pre-chain`, { chain: pki.chains[2]!.ders.map(b64) })).status, 200);
    } finally {
      await s.close();
    }
  });
});

describe('admission cap (answer rate x max_latency_ms)', () => {
  test('AdmissionLimit: the cap follows the answer rate, between min and max', () => {
    let t = 0;
    const l = new AdmissionLimit({ latencyMs: 250, min: 4, max: 1000, windowMs: 100, now: () => t });
    for (let i = 0; i < 4; i++) assert.ok(l.tryAcquire());
    assert.equal(l.tryAcquire(), false, 'an idle front end admits min at once');
    // 4 answered per 10 ms for a while: 0.4/ms.
    for (let w = 0; w < 8; w++) {
      for (let i = 0; i < 40; i++) (l.release(), l.tryAcquire());
      t += 100;
    }
    assert.ok(l.limit > 90 && l.limit <= 110, `about 0.4/ms x 250 ms = 100: ${l.limit}`);
    assert.ok(l.admits(0.8) && l.tryAcquire(0.8), 'add-chain gets 80 % of the cap');
    while (l.tryAcquire(0.5));
    assert.equal(l.inFlight, Math.ceil(l.limit / 2), 'low priority half of it');
    assert.ok(l.tryAcquire(), 'add-pre-chain the rest');
    // A pause of a few windows (the sequencer's batch, a GC) leaves the cap where it was:
    // it follows the best window of the last 2 s.
    for (let w = 0; w < 5; w++) (t += 100, l.limit);
    assert.ok(l.limit > 90, `a pause does not shrink the cap: ${l.limit}`);
    // Nothing answered for longer than that: the cap falls to min, not below it.
    for (let w = 0; w < 20; w++) (t += 100, l.limit);
    assert.equal(l.limit, 4);
    assert.throws(() => new AdmissionLimit({ latencyMs: 0 }), RangeError);
  });

  test('past the cap, submissions get 503 with Retry-After before the body is read, counted as over_capacity, on a kept connection', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    // A sequencer that holds every batch until released: the admitted stay in flight.
    const held: Array<() => void> = [];
    let holding = 0;
    await queue.consume('h1', (subs) => new Promise((r) => ((holding += subs.length), held.push(() => r(instant(subs))))));
    const metrics = new Metrics();
    const ctfe = createCtfe({ queue, shards: [runtime()], clock: () => NOW, metrics, admission: { maxLatencyMs: 250, maxPending: 2 } });
    const { server, url } = await listen(ctfe);
    try {
      const body = JSON.stringify({ chain: pki.chains[2]!.ders.map(b64) });
      const admittedOnes = [2, 3].map((c) => post(`${url}/2026h1/ct/v1/add-pre-chain`, { chain: pki.chains[c]!.ders.map(b64) }));
      for (let i = 0; holding < 2; i++) {
        if (i > 1000) assert.fail(`the sequencer holds ${holding} submissions, not 2`);
        await new Promise((r) => setTimeout(r, 5));
      }
      // Two requests on one connection: the first announces a body it never needs to send
      // in full before its answer; the connection stays usable for the second.
      const u = new URL(url);
      const answers = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(u.port), u.hostname, () => {
          const req = `POST /2026h1/ct/v1/add-pre-chain HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          sock.write(req + req);
        });
        let got = '';
        sock.on('data', (d) => {
          got += d.toString();
          if ((got.match(/HTTP\/1\.1 /g) ?? []).length === 2 && got.endsWith('}')) (sock.destroy(), resolve(got));
        });
        sock.on('error', reject);
        sock.on('close', () => resolve(got));
        setTimeout(() => (sock.destroy(), reject(new Error(`no two answers: ${got}`))), 3000);
      });
      assert.equal((answers.match(/HTTP\/1\.1 503 /g) ?? []).length, 2, answers);
      assert.match(answers, /Retry-After: 1/i);
      assert.doesNotMatch(answers, /Connection: close/i);
      for (const release of held.splice(0)) release();
      assert.deepEqual((await Promise.all(admittedOnes)).map((r) => r.status), [200, 200]);
      assert.match(await metrics.registry.metrics(), /ctlog_refused_total\{shard="h1",endpoint="add-pre-chain",reason="over_capacity"\} 2/);
    } finally {
      for (const release of held.splice(0)) release();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      await queue.close();
    }
  });
});
