// The whole log over real HTTP, run three ways (deployment.ts): real and generated chains
// submitted concurrently, every SCT, STH and checkpoint signature verified with @noble/curves
// over inputs built by hand, every leaf proved included, the tree rebuilt from get-entries and
// from the static-ct-api tiles, duplicates answered with the same SCT, bad requests refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Extensions } from '@peculiar/asn1-x509';
import { issue, loadIssuer, makeChain, makeIntermediate } from '../../src/cli/cert-factory.js';
import { ecdsaSubmissions, realSubmissions, rsaSubmissions, type Submission } from './corpus.js';
import { MODES, startDeployment, type Deployment } from './deployment.js';
import { checkConsistency, checkEntries, checkInclusion, checkStatic, getSth, http, pool, rawPost, submit, waitForSize, type Logged, type Sth } from './log-checks.js';
import { REPO } from './processes.js';

const DAY = 86400_000;
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

test('the hand-built precert TBS (asn1-x509 re-encoding) reproduces a real RFC 6962 vector byte for byte', () => {
  // real-embedded-scts.json: the TBS the embedded SCTs of cryptography.io's certificate sign,
  // i.e. the final certificate's TBS without the SCT list extension.
  const v = JSON.parse(readFileSync(`${REPO}/test/fixtures/certs/real-embedded-scts.json`, 'utf8')) as { precert_tbs_b64: string };
  const pem = readFileSync(`${REPO}/test/fixtures/certs/real-pyca-cryptography-scts.pem`, 'utf8');
  const der = Buffer.from(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END/.exec(pem)![1]!.replace(/\s+/g, ''), 'base64');
  const tbs = AsnConvert.parse(der, Certificate).tbsCertificate;
  tbs.extensions = new Extensions(tbs.extensions!.filter((e) => e.extnID !== '1.3.6.1.4.1.11129.2.4.2'));
  assert.equal(Buffer.from(AsnConvert.serialize(tbs)).toString('base64'), v.precert_tbs_b64);
});

let corpus: Submission[] = [];
let rsaRootPem = '';
const now = Date.now();

before(async () => {
  const rsa = await rsaSubmissions({ x509: 20, precert: 15, psc: 15 }, now, now + 90 * DAY);
  rsaRootPem = rsa.rootPem;
  corpus = [...realSubmissions(), ...ecdsaSubmissions({ x509: 120, precert: 60, psc: 40 }, now, now + 90 * DAY), ...rsa.submissions];
  // Interleave kinds so every batch mixes certificates, precertificates, RSA and ECDSA.
  corpus.sort(() => Math.random() - 0.5);
});

for (const mode of MODES) {
  describe(`whole log: ${mode}`, { concurrency: false }, () => {
    let dep: Deployment;
    const logged: Logged[] = [];
    const early: Partial<Record<Submission['shard'], Sth>> = {};
    const final: Partial<Record<Submission['shard'], Sth>> = {};
    const shardNames = ['old', 'now'] as const;
    const loggedIn = (s: Submission['shard']) => logged.filter((l) => l.sub.shard === s);

    before(async () => {
      dep = await startDeployment(mode, rsaRootPem);
    });
    after(async () => {
      await dep?.close();
    });

    test('every real and generated chain gets an SCT that verifies over the hand-built input', async () => {
      // A first wave, an early STH per shard, then the rest: the early STHs anchor the consistency check.
      const first = corpus.filter((s) => s.shard === 'old').concat(corpus.filter((s) => s.shard === 'now').slice(0, 40));
      const rest = corpus.filter((s) => !first.includes(s));
      logged.push(...(await pool(first, 64, (s) => submit(dep, s))));
      for (const s of shardNames) early[s] = await waitForSize(dep, dep.shards[s], loggedIn(s).length);
      logged.push(...(await pool(rest, 64, (s) => submit(dep, s))));
      for (const s of shardNames) {
        const idx = loggedIn(s).map((l) => l.index).sort((a, b) => a - b);
        assert.deepEqual(idx, idx.map((_, i) => i), `shard ${s}: leaf_index values are 0..n-1, each once`);
      }
      assert.equal(logged.length, corpus.length);
    });

    test('get-sth verifies; every leaf is proved included; the final STH is consistent with the early one', async () => {
      for (const s of shardNames) {
        const sth = await waitForSize(dep, dep.shards[s], loggedIn(s).length);
        assert.equal(sth.tree_size, loggedIn(s).length, `shard ${s}: one entry per submission`);
        assert.ok(sth.timestamp >= Math.max(...loggedIn(s).map((l) => l.timestamp)), 'STH timestamp >= every SCT timestamp');
        final[s] = sth;
        await checkInclusion(dep, dep.shards[s], sth, loggedIn(s));
        await checkConsistency(dep, dep.shards[s], early[s]!, sth);
      }
    });

    test('get-entries (end past the tree) returns the hand-built leaves; the static-ct-api tiles give the same tree', async () => {
      for (const s of shardNames) {
        const sth = final[s]!;
        const hashes = await checkEntries(dep, dep.shards[s], sth, new Map(loggedIn(s).map((l) => [l.index, l])));
        const current = await getSth(dep, dep.shards[s]);
        assert.equal(current.tree_size, sth.tree_size);
        await checkStatic(dep, dep.shards[s], current, hashes);
      }
      assert.ok(final.now!.tree_size > 256, 'the "now" shard is large enough for a level-1 tile');
    });

    test('a duplicate submission returns the same SCT timestamp and extensions and adds no entry', async () => {
      const dups = [...loggedIn('old').slice(0, 4), ...loggedIn('now').slice(0, 12)];
      const again = await pool(dups, 16, (l) => submit(dep, l.sub));
      again.forEach((a, i) => {
        assert.equal(a.timestamp, dups[i]!.timestamp, `${a.sub.name}: same timestamp`);
        assert.deepEqual(Buffer.from(a.extensions), Buffer.from(dups[i]!.extensions), `${a.sub.name}: same extensions`);
      });
      await new Promise((r) => setTimeout(r, 700)); // past one sth_interval: a fresh STH would show any new entry
      for (const s of shardNames) assert.equal((await getSth(dep, dep.shards[s])).tree_size, final[s]!.tree_size, `shard ${s}: no new entry`);
    });

    test('bad requests get a 4xx with a clear message (never a 500)', async () => {
      const root = loadIssuer(readFileSync(`${REPO}/demo/demo-root.pem`, 'utf8'), readFileSync(`${REPO}/demo/demo-root-key.pem`, 'utf8'));
      const inter = makeIntermediate(root, now);
      const strangerRoot = issue(undefined, { cn: 'not a configured root', ca: true, notBefore: now - DAY, notAfter: now + 3650 * DAY });
      const chain = (o: Partial<Parameters<typeof makeChain>[1]>, via = inter) => ({ chain: makeChain(via, { kind: 'x509', notBefore: now - DAY, notAfter: now + 90 * DAY, ...o }).map(b64) });
      const sth = final.now!;
      const known = loggedIn('now')[0]!;
      type Row = { name: string; method?: string; at: 'submit' | 'read'; path: string; body?: string; status: number; message: string };
      const json = (v: unknown) => JSON.stringify(v);
      const rows: Row[] = [
        { name: 'malformed JSON', at: 'submit', path: '/now/ct/v1/add-chain', body: '{"chain": [', status: 400, message: 'malformed JSON' },
        { name: 'chain is not an array', at: 'submit', path: '/now/ct/v1/add-chain', body: json({ chain: 'abc' }), status: 400, message: '"chain" must be an array' },
        { name: 'empty chain', at: 'submit', path: '/now/ct/v1/add-chain', body: json({ chain: [] }), status: 400, message: 'empty chain' },
        { name: 'bad base64', at: 'submit', path: '/now/ct/v1/add-chain', body: json({ chain: ['!!not base64!!'] }), status: 400, message: 'not valid base64' },
        { name: 'garbage DER', at: 'submit', path: '/now/ct/v1/add-chain', body: json({ chain: [b64(randomBytes(200))] }), status: 400, message: 'DER' },
        { name: 'unknown root', at: 'submit', path: '/now/ct/v1/add-chain', body: json(chain({}, makeIntermediate(strangerRoot, now))), status: 400, message: 'root' },
        { name: 'precert to add-chain', at: 'submit', path: '/now/ct/v1/add-chain', body: json(chain({ kind: 'precert' })), status: 400, message: 'add-pre-chain' },
        { name: 'certificate to add-pre-chain', at: 'submit', path: '/now/ct/v1/add-pre-chain', body: json(chain({})), status: 400, message: 'add-chain' },
        { name: 'NotAfter past every shard', at: 'submit', path: '/now/ct/v1/add-chain', body: json(chain({ notAfter: Date.parse('2031-01-01T00:00:00Z') })), status: 400, message: "outside this shard's window" },
        { name: 'NotAfter in another shard', at: 'submit', path: '/old/ct/v1/add-chain', body: json(chain({})), status: 400, message: 'submit it to /now' },
        { name: 'body over the limit', at: 'submit', path: '/now/ct/v1/add-chain', body: json({ chain: [b64(randomBytes(1024 * 1024))] }), status: 413, message: 'exceeds' },
        { name: 'unknown shard (submit)', at: 'submit', path: '/nope/ct/v1/add-chain', body: json(chain({})), status: 404, message: 'no such endpoint' },
        { name: 'unknown shard (read)', method: 'GET', at: 'read', path: '/nope/ct/v1/get-sth', status: 404, message: 'no such endpoint' },
        { name: 'unknown endpoint in a shard', method: 'GET', at: 'read', path: '/now/ct/v1/get-everything', status: 404, message: 'no such endpoint' },
        { name: 'GET on add-chain', method: 'GET', at: 'submit', path: '/now/ct/v1/add-chain', status: 405, message: 'takes POST' },
        { name: 'POST on get-sth', method: 'POST', at: 'read', path: '/now/ct/v1/get-sth', body: '{}', status: 405, message: 'takes' },
        { name: 'get-entries start > end', method: 'GET', at: 'read', path: '/now/ct/v1/get-entries?start=5&end=2', status: 400, message: 'larger than "end"' },
        { name: 'get-entries start past the tree', method: 'GET', at: 'read', path: `/now/ct/v1/get-entries?start=${sth.tree_size + 10}&end=${sth.tree_size + 20}`, status: 503, message: 'not below the current tree size' },
        { name: 'get-entries missing start', method: 'GET', at: 'read', path: '/now/ct/v1/get-entries?end=2', status: 400, message: 'missing parameter "start"' },
        { name: 'get-entries negative start', method: 'GET', at: 'read', path: '/now/ct/v1/get-entries?start=-1&end=2', status: 400, message: 'non-negative decimal' },
        { name: 'get-proof-by-hash unknown hash', method: 'GET', at: 'read', path: `/now/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(randomBytes(32)))}&tree_size=${sth.tree_size}`, status: 404, message: 'no entry with leaf hash' },
        { name: 'get-proof-by-hash hash not 32 bytes', method: 'GET', at: 'read', path: `/now/ct/v1/get-proof-by-hash?hash=AAAA&tree_size=${sth.tree_size}`, status: 400, message: '32-byte' },
        { name: 'get-proof-by-hash tree_size too big', method: 'GET', at: 'read', path: `/now/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(known.leafHash))}&tree_size=${sth.tree_size + 1000}`, status: 503, message: 'larger than the current tree size' },
        { name: 'get-sth-consistency first > second', method: 'GET', at: 'read', path: '/now/ct/v1/get-sth-consistency?first=10&second=3', status: 400, message: 'larger than "second"' },
        { name: 'get-sth-consistency second too big', method: 'GET', at: 'read', path: `/now/ct/v1/get-sth-consistency?first=1&second=${sth.tree_size + 1000}`, status: 503, message: 'larger than the current tree size' },
        { name: 'get-entry-and-proof index past tree_size', method: 'GET', at: 'read', path: `/now/ct/v1/get-entry-and-proof?leaf_index=${sth.tree_size}&tree_size=${sth.tree_size}`, status: 400, message: 'is not below "tree_size"' },
        { name: 'malformed tile path', method: 'GET', at: 'read', path: '/now/tile/0/12', status: 400, message: 'malformed tile path' },
        { name: 'tile past the tree', method: 'GET', at: 'read', path: '/now/tile/0/x001/000', status: 404, message: 'does not exist' },
        { name: 'unknown issuer', method: 'GET', at: 'read', path: `/now/issuer/${'ab'.repeat(32)}`, status: 404, message: 'no issuer' },
        { name: 'issuer fingerprint not hex', method: 'GET', at: 'read', path: '/now/issuer/xyz', status: 400, message: '64 lowercase hex' },
      ];
      const failures: string[] = [];
      await pool(rows, 8, async (r) => {
        const base = r.at === 'submit' ? dep.submitUrl : dep.readUrl;
        const method = r.method ?? 'POST';
        const init: RequestInit = r.body === undefined ? { method } : { method, body: r.body, headers: { 'Content-Type': 'application/json' } };
        const a = r.status === 413 ? await rawPost(base + r.path, r.body!) : await http(base + r.path, init);
        const message = typeof a.body?.error === 'string' ? a.body.error : a.text;
        if (a.status !== r.status || !message.includes(r.message)) failures.push(`${r.name}: got ${a.status} ${JSON.stringify(message.slice(0, 200))}, want ${r.status} containing ${JSON.stringify(r.message)}`);
      });
      assert.deepEqual(failures, []);
      for (const s of dep.servers) assert.equal(s.proc.exitCode, null, `a ${mode} process exited:\n${s.output().slice(-2000)}`);
    });
  });
}
