// The CTFE under trouble: a sequencer that never answers, a full queue, per-client rate
// limits, aborted uploads and garbage. Never a 500, never a crash (docs/DESIGN.md invariant 5).
// The queues here are real InProcessQueues; only their sequencer side is replaced, to
// inject the failure.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createCtfe, TokenBucketRateLimiter, type Ctfe } from '../../src/ctfe/index.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { InProcessQueue } from '../../src/queue/in-process-queue.js';
import type { SubmissionQueue } from '../../src/queue/queue.js';
import type { Sequenced, Submission } from '../../src/queue/submission.js';
import { createSigner, generateLogKey } from '../../src/signing/index.js';
import { encodeCtExtensions } from '../../src/tls/index.js';
import { RootStore } from '../../src/x509/index.js';
import { createPrivateKey } from 'node:crypto';
import { generatedPki, type GeneratedPki } from './chains.js';
import { b64, listen, post, shardConfig, instantSequencer } from './harness.js';

let pki: GeneratedPki;
let roots: RootStore;
before(async () => {
  pki = await generatedPki();
  roots = RootStore.fromCerts([pki.root.der]);
});

const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));

const runtime = (deadlineMs = 10_000): ShardRuntime => ({
  config: shardConfig({ name: 'h1', prefix: '/2026h1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z', deadlineMs }, '/nonexistent'),
  id: 1,
  logId: signer.logId,
  publicKey: signer.publicKeySpki,
  roots,
  origin: '127.0.0.1/2026h1',
});

/** A sequencer that answers at once with an SCT it signs without logging anything. */
const instant = instantSequencer(signer, 1_767_225_600_000);
/** The same answers, signed (well-formed, over the right input) by a key that is not the shard's. */
const otherKey = instantSequencer(createSigner(createPrivateKey(generateLogKey().privateKeyPem)), 1_767_225_600_000);

/** The DigitallySigned with its ECDSA r replaced by 0 (DER INTEGER 0): never a valid signature. */
function zeroR(ds: Uint8Array): Uint8Array {
  const der = ds.subarray(4);
  const rLen = der[3]!;
  const rest = der.subarray(4 + rLen);
  const body = Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), rest]);
  const sig = Buffer.concat([Buffer.from([0x30, body.length]), body]);
  return new Uint8Array(Buffer.concat([Buffer.from([ds[0]!, ds[1]!, sig.length >> 8, sig.length & 0xff]), sig]));
}

async function serve(queue: SubmissionQueue, extra: Partial<Parameters<typeof createCtfe>[0]> = {}, rt = runtime()): Promise<{ url: string; ctfe: Ctfe; close(): Promise<void> }> {
  const ctfe = createCtfe({ queue, shards: [rt], clock: () => Date.parse('2026-02-01T00:00:00Z'), ...extra });
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

const chainBody = (i = 1) => ({ chain: pki.chains[i]!.ders.map(b64) });

describe('deadline', () => {
  test('a sequencer that never answers gives 503 with Retry-After, and the CTFE stays up', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', () => new Promise(() => {}));
    const s = await serve(queue, {}, runtime(150));
    try {
      const t0 = Date.now();
      const res = await post(`${s.url}/add-chain`, chainBody());
      assert.equal(res.status, 503);
      assert.ok(Date.now() - t0 >= 140, 'waited for the deadline');
      assert.match(String(res.body.error), /not sequenced within 150 ms/);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
    } finally {
      await s.close();
    }
  });

  test('no sequencer for the shard at all: 503 with Retry-After', async () => {
    const s = await serve(new InProcessQueue({ lingerMs: 1 }));
    try {
      const res = await post(`${s.url}/add-chain`, chainBody());
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
    } finally {
      await s.close();
    }
  });
});

describe('every SCT belongs to its submission', () => {
  // What a queue that lost a job and reused its id did: it answered a waiter with the result
  // of another submission. The answer must be a 503 with Retry-After, never a 200 with
  // another entry's SCT, and never a 500.
  const cases: Array<{ name: string; wrong: (subs: Submission[]) => Promise<Sequenced[]> }> = [
    { name: "another submission's answer (identity and SCT)", wrong: async (subs) => (await instant(subs.map(() => otherSubmission))).map((r) => ({ ...r })) },
    { name: "another submission's SCT under this submission's identity", wrong: async (subs) => (await instant(subs.map(() => otherSubmission))).map((r, i) => ({ ...r, identity: subs[i]!.identity })) },
    { name: 'an SCT with a bad signature', wrong: async (subs) => (await instant(subs)).map((r) => ({ ...r, signature: new Uint8Array([4, 3, 0, 0]) })) },
    { name: 'fewer answers than submissions', wrong: async (subs) => (await instant(subs)).slice(1) },
    { name: 'answers in another order', wrong: async (subs) => (await instant(subs)).reverse() },
    { name: 'an answer whose timestamp is not the one signed', wrong: async (subs) => (await instant(subs)).map((r) => ({ ...r, timestamp: r.timestamp + 1 })) },
    { name: 'an answer whose extensions are not the ones signed', wrong: async (subs) => (await instant(subs)).map((r, i) => ({ ...r, extensions: encodeCtExtensions({ leafIndex: i + 7 }) })) },
    { name: 'well-formed SCTs signed by another key', wrong: async (subs) => otherKey(subs) },
  ];
  let otherSubmission: Submission;
  before(async () => {
    // A real submission for another certificate, captured from the CTFE itself.
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', async (subs) => {
      otherSubmission = subs[0]!;
      return instant(subs);
    });
    const s = await serve(queue);
    try {
      assert.equal((await post(`${s.url}/add-chain`, chainBody(0))).status, 200);
    } finally {
      await s.close();
    }
  });
  for (const c of cases) {
    test(`${c.name}: 503 with Retry-After, never 200`, async () => {
      const queue = new InProcessQueue({ lingerMs: 20 });
      await queue.consume('h1', c.wrong);
      const s = await serve(queue);
      try {
        const fresh = await pki.freshLeaf(900);
        const res = await Promise.all([post(`${s.url}/add-chain`, chainBody(1)), post(`${s.url}/add-chain`, { chain: fresh.ders.map(b64) })]);
        for (const r of res) {
          assert.equal(r.status, 503, JSON.stringify(r.body));
          assert.equal(r.headers.get('retry-after'), '1');
          assert.match(String(r.body.error), /retry/);
        }
      } finally {
        await s.close();
      }
    });
  }
});

describe('issuers seen in valid chains', () => {
  // The CTFE keeps the parse of a valid chain's CA certificates by their base64 text; the
  // leaf is checked in full every time, against the cached issuer.
  test('a leaf whose signature does not verify under a cached issuer is still a 400', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', instant);
    const s = await serve(queue);
    try {
      const good = await pki.freshLeaf(902);
      assert.equal((await post(`${s.url}/add-chain`, { chain: good.ders.map(b64) })).status, 200);
      const again = await pki.freshLeaf(903);
      assert.equal((await post(`${s.url}/add-chain`, { chain: again.ders.map(b64) })).status, 200);
      const bad = (await pki.freshLeaf(904)).ders.map((d) => new Uint8Array(d));
      bad[0]![bad[0]!.length - 5]! ^= 0x01; // inside the leaf's signature
      const res = await post(`${s.url}/add-chain`, { chain: bad.map(b64) });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.error), /did not sign|signature/);
    } finally {
      await s.close();
    }
  });
});

describe('verifyEverySct', () => {
  /** Two submissions in one queue message, answered by `answer`; the statuses, sorted. */
  async function pair(answer: (subs: Submission[]) => Promise<Sequenced[]>, verifyEverySct?: boolean): Promise<number[]> {
    const queue = new InProcessQueue({ lingerMs: 20 });
    await queue.consume('h1', answer);
    const s = await serve(queue, verifyEverySct === undefined ? {} : { verifyEverySct });
    try {
      const fresh = await pki.freshLeaf(901);
      const res = await Promise.all([post(`${s.url}/add-chain`, chainBody(1)), post(`${s.url}/add-chain`, { chain: fresh.ders.map(b64) })]);
      return res.map((r) => r.status).sort();
    } finally {
      await s.close();
    }
  }

  test('without it, every signature is still checked for form: one with r = 0 is a 503, its neighbour a 200', async () => {
    assert.deepEqual(await pair(async (subs) => (await instant(subs)).map((r, i) => (i === 1 ? { ...r, signature: zeroR(r.signature) } : r))), [200, 503]);
  });

  test('answers without a signed digest (a sequencer from before it) are each verified in full', async () => {
    const old = async (subs: Submission[]) => (await instant(subs)).map((r) => ({ ...r, signedDigest: new Uint8Array(0) }));
    assert.deepEqual(await pair(old), [200, 200]);
    const oldMixed = async (subs: Submission[]) => {
      const good = await old(subs);
      const bad = (await otherKey(subs)).map((r) => ({ ...r, signedDigest: new Uint8Array(0) }));
      return good.map((r, i) => (i === 0 ? r : bad[i]!));
    };
    assert.deepEqual(await pair(oldMixed), [200, 503]);
  });

  test('a well-formed SCT by another key that is not the one checked for its queue message: 503 with the option', async () => {
    // Without the option one SCT per queue message is verified in full (docs/DESIGN.md);
    // with it, each one is, so a bad signature after the first is caught too.
    const mixed = async (subs: Submission[]) => {
      const good = await instant(subs);
      const bad = await otherKey(subs);
      return good.map((r, i) => (i === 0 ? r : bad[i]!));
    };
    assert.deepEqual(await pair(mixed, true), [200, 503]);
  });
});

describe('back-pressure', () => {
  test('over the depth limit add-chain is refused first, add-pre-chain later', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', instant);
    let depth = 0;
    const crowded: SubmissionQueue = { submit: (...a) => queue.submit(...a), depth: () => depth, close: () => queue.close() };
    const metrics = new Metrics();
    // The generated leaves' notBefore is a month before the test clock: fresh for this test,
    // so that only the depth limits of the two endpoints are in play (not the priorities).
    const s = await serve(crowded, { maxQueueDepth: 100, metrics, admission: { oldNotBeforeMs: 365 * 86_400_000 } });
    try {
      const table: Array<[number, number, number]> = [
        // depth, add-chain status, add-pre-chain status
        [0, 200, 200],
        [79, 200, 200],
        [80, 503, 200],
        [99, 503, 200],
        [100, 503, 503],
      ];
      for (const [d, chain, pre] of table) {
        depth = d;
        const a = await post(`${s.url}/add-chain`, chainBody(1));
        const p = await post(`${s.url}/add-pre-chain`, chainBody(2));
        assert.equal(a.status, chain, `add-chain at depth ${d}: ${JSON.stringify(a.body)}`);
        assert.equal(p.status, pre, `add-pre-chain at depth ${d}: ${JSON.stringify(p.body)}`);
        for (const r of [a, p]) if (r.status === 503) assert.equal(r.headers.get('retry-after'), '1');
      }
      assert.match(await metrics.registry.metrics(), /ctlog_submissions_total\{shard="h1",endpoint="add-chain",reason="overloaded"\} 3/);
    } finally {
      await s.close();
    }
  });

  test("the queue's own 429 (too many in flight) reaches the client with Retry-After", async () => {
    const queue = new InProcessQueue({ lingerMs: 1, maxInFlight: 1 });
    await queue.consume('h1', () => new Promise(() => {}));
    const s = await serve(queue, {}, runtime(300));
    try {
      const first = post(`${s.url}/add-chain`, chainBody(0));
      await new Promise((r) => setTimeout(r, 50));
      const second = await post(`${s.url}/add-chain`, chainBody(1));
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('retry-after'), '1');
      assert.equal((await first).status, 503);
    } finally {
      await s.close();
    }
  });
});

describe('rate limit', () => {
  test('per client address: the fourth request in a burst of 3 gets 429, whatever the User-Agent', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', instant);
    let now = 0;
    const rateLimit = new TokenBucketRateLimiter({ ratePerSecond: 1, burst: 3, clock: () => now });
    const metrics = new Metrics();
    const s = await serve(queue, { rateLimit, metrics });
    try {
      const as = (ua: string) => post(`${s.url}/add-chain`, chainBody(), { headers: { 'User-Agent': ua } });
      for (let i = 0; i < 3; i++) assert.equal((await as('ca-a')).status, 200);
      const refused = await as('ca-a');
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(String(refused.body.error), /too many requests/);
      assert.equal((await as('ca-b')).status, 429, 'another User-Agent shares the bucket of the address');
      now += 1000;
      assert.equal((await as('ca-b')).status, 200, 'one token back after a second');
      assert.equal((await as('ca-a')).status, 429);
      assert.match(await metrics.registry.metrics(), /ctlog_rate_limited_total\{shard="h1",endpoint="add-chain"\} 3/);
    } finally {
      await s.close();
    }
  });

  test('a client that leaves during a slow (Redis) rate-limit check does not leave a request in flight forever', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', instant);
    let release!: () => void;
    const checked = new Promise<void>((r) => (release = r));
    let asked!: () => void;
    const asking = new Promise<void>((r) => (asked = r));
    const rateLimit = { take: async () => (asked(), await checked, true) };
    const s = await serve(queue, { rateLimit });
    let drained: unknown = false;
    try {
      const u = new URL(s.url);
      const body = JSON.stringify(chainBody());
      const sock = connect(Number(u.port), u.hostname, () =>
        sock.write(`POST /2026h1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`),
      );
      sock.on('error', () => {});
      await asking;
      sock.destroy();
      await new Promise((r) => setTimeout(r, 50));
      release();
      drained = await Promise.race([s.ctfe.close().then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
      assert.equal(drained, true, 'close() resolves: the abandoned request is finished, not waiting for a body that never comes');
    } finally {
      if (drained) await s.close(); // else close() would hang the suite
    }
  });
});

describe('never a 500, never a crash', () => {
  let s: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', instant);
    s = await serve(queue, { maxBodyBytes: 16 * 1024 });
  });
  after(async () => s.close());

  const alive = async () => assert.equal((await post(`${s.url}/add-chain`, chainBody())).status, 200, 'still serving');

  test('garbage in every field gets a 4xx', async () => {
    const good = pki.chains[1]!.ders.map(b64);
    const leaf = pki.chains[1]!.ders[0]!;
    let seed = 1;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const bodies: string[] = [
      '{"chain": {"0": "MIIB"}}',
      '{"chain": [[]]}',
      '{"chain": [{}]}',
      '{"chain": [true]}',
      '{"chain": ["' + '='.repeat(8) + '"]}',
      '{"chain": ["AAAA", "AAAA"]}',
      '{"__proto__": {"chain": ["AAAA"]}}',
      '"just a string"',
      '12345',
      '\u0000\u0001\u0002',
      '{"chain": ["' + b64(leaf.subarray(0, 100)) + '"]}',
      JSON.stringify({ chain: [good[0], good[0]] }),
      JSON.stringify({ chain: [good[1], good[2]] }),
      JSON.stringify({ chain: [...good].reverse() }),
    ];
    // Truncations and bit flips of a valid leaf.
    for (let i = 0; i < 60; i++) {
      const d = new Uint8Array(leaf);
      if (i % 2) d[rnd(d.length)]! ^= 1 << rnd(8);
      const cut = i % 3 === 0 ? d.subarray(0, rnd(d.length)) : d;
      bodies.push(JSON.stringify({ chain: [b64(cut), ...good.slice(1)] }));
    }
    for (let i = 0; i < 20; i++) bodies.push(Buffer.from(Array.from({ length: rnd(300) }, () => rnd(256))).toString('latin1'));
    for (const body of bodies) {
      const res = await post(`${s.url}/add-chain`, body);
      assert.ok(res.status < 500, `status ${res.status} for ${body.slice(0, 80)}: ${JSON.stringify(res.body)}`);
    }
    await alive();
  });

  test('a declared Content-Length over the limit is refused at once, without reading the body', async () => {
    const answer = await rawRequest(s.url, `POST /2026h1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{"chain":`);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /Connection: close/i);
    await alive();
  });

  test('a chunked body that grows over the limit gets 413', async () => {
    const chunk = 'A'.repeat(4096);
    let req = `POST /2026h1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`;
    for (let i = 0; i < 8; i++) req += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const answer = await rawRequest(s.url, req);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    await alive();
  });

  test('an upload aborted halfway is dropped quietly', async () => {
    await new Promise<void>((resolve, reject) => {
      const u = new URL(s.url);
      const sock = connect(Number(u.port), u.hostname, () => {
        sock.write(`POST /2026h1/ct/v1/add-chain HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"chain": ["MIIB`);
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 30);
      });
      sock.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 30));
    await alive();
  });

  test('a client that leaves while waiting for the sequencer does not hurt the CTFE', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    await queue.consume('h1', async (subs) => {
      await new Promise((r) => setTimeout(r, 100));
      return instant(subs);
    });
    const slow = await serve(queue);
    try {
      const ac = new AbortController();
      const p = fetch(`${slow.url}/add-chain`, { method: 'POST', body: JSON.stringify(chainBody()), signal: ac.signal }).catch((e: Error) => e);
      setTimeout(() => ac.abort(), 20);
      assert.ok((await p) instanceof Error);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal((await post(`${slow.url}/add-chain`, chainBody())).status, 200);
    } finally {
      await slow.close();
    }
  });

  test('paths outside the CTFE are left to the caller', async () => {
    const ctfe = createCtfe({ queue: new InProcessQueue(), shards: [runtime()], clock: () => 0 });
    for (const path of ['/2026h1/ct/v1/get-sth', '/2026h1/ct/v1/add-chain/', '/other/ct/v1/add-chain', '/', '']) {
      assert.equal(ctfe.handle({ url: path, method: 'POST' } as never, {} as never), false, path);
    }
  });

  test('close() answers new requests 503 and waits for those in flight', async () => {
    const queue = new InProcessQueue({ lingerMs: 1 });
    let reached!: () => void;
    const atSequencer = new Promise<void>((r) => (reached = r));
    await queue.consume('h1', async (subs) => {
      reached();
      await new Promise((r) => setTimeout(r, 1000));
      return instant(subs);
    });
    const c = await serve(queue);
    try {
      const inFlight = post(`${c.url}/add-chain`, chainBody());
      await atSequencer; // the request is in flight (a fixed sleep raced a busy machine)
      let closed = false;
      const closing = c.ctfe.close().then(() => (closed = true));
      const late = await post(`${c.url}/add-chain`, chainBody(0));
      assert.equal(late.status, 503);
      assert.equal(closed, false, 'close waits for the request in flight');
      assert.equal((await inFlight).status, 200);
      await closing;
    } finally {
      await c.close();
    }
  });
});

/** Sends raw bytes, returns what the server answered before closing or within 2 s. */
function rawRequest(base: string, text: string): Promise<string> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    let got = '';
    const sock = connect(Number(u.port), u.hostname, () => sock.write(text));
    const t = setTimeout(() => {
      sock.destroy();
      resolve(got);
    }, 2000);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (/\r\n\r\n[\s\S]*\}/.test(got)) {
        clearTimeout(t);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', (e) => (got ? resolve(got) : reject(e)));
    sock.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
  });
}
