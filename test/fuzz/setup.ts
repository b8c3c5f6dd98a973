// What the fuzz test and the fuzz benchmark both start from: a corpus of real chains (the
// generated test PKI of the CTFE tests and the ct-cpp fixtures), a CTFE on an in-process
// queue whose sequencer answers at once, and a read server over a small SQLite log filled
// through the real sequencer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createCtfe } from '../../src/ctfe/index.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { InProcessQueue } from '../../src/queue/in-process-queue.js';
import type { Sequenced, Submission } from '../../src/queue/submission.js';
import { createSigner, generateLogKey } from '../../src/signing/index.js';
import { encodeCtExtensions, sctSignedDigest } from '../../src/tls/index.js';
import { createPrivateKey } from 'node:crypto';
import { createReader } from '../../src/read/index.js';
import { RootStore } from '../../src/x509/index.js';
import { generatedPki } from '../ctfe/chains.js';
import { shardConfig } from '../ctfe/harness.js';
import { freshDb } from '../helpers/services.js';
import { fillLog } from '../read/fill-log.js';
import { fixtureChains, fixtureRoots } from '../ctfe/chains.js';
import type { Corpus } from './targets.js';

type Handle = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface FuzzSetup {
  corpus: Corpus;
  ctfe: { handle: Handle; prefix: string };
  read: { handle: Handle; prefix: string };
  close(): Promise<void>;
}

export async function fuzzSetup(): Promise<FuzzSetup> {
  const pki = await generatedPki();
  const now = Date.parse('2026-02-01T00:00:00Z');
  const fixtures = fixtureChains();
  const corpus: Corpus = {
    certs: [...pki.chains, ...fixtures].flatMap((c) => c.ders),
    chains: pki.chains.map((c) => ({ kind: c.endpoint === 'add-chain' ? ('x509' as const) : ('precert' as const), ders: c.ders })),
    roots: [pki.root.der, ...fixtureRoots()],
    now,
  };
  const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));
  const rt: ShardRuntime = {
    config: shardConfig({ name: 'f1', prefix: '/f1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z' }, '/nonexistent'),
    id: 1,
    logId: signer.logId,
    publicKey: signer.publicKeySpki,
    roots: RootStore.fromCerts(corpus.roots),
    origin: '127.0.0.1/f1',
  };
  const queue = new InProcessQueue({ lingerMs: 1 });
  // A sequencer that answers at once with an SCT it signs without logging anything.
  const answer = (subs: Submission[]): Promise<Sequenced[]> =>
    Promise.all(
      subs.map(async (s, i) => {
        const extensions = encodeCtExtensions({ leafIndex: i });
        const sct = await signer.signSct(now, s.entry, extensions);
        return { identity: s.identity, idx: i, timestamp: sct.timestamp, extensions, signature: sct.signature, duplicate: false, signedDigest: sctSignedDigest(now, s.entry, extensions) };
      }),
    );
  await queue.consume('f1', answer);
  const ctfe = createCtfe({ queue, shards: [rt], clock: () => now });

  const db = await freshDb('sqlite');
  const log = await fillLog(db.storage, [40, 300]);
  const reader = createReader({ storage: db.storage, shards: [log.rt], clock: () => Date.now() });
  return {
    corpus,
    ctfe: { handle: ctfe.handle, prefix: '/f1' },
    read: { handle: reader.handle, prefix: log.rt.config.prefix },
    async close() {
      await ctfe.close();
      await queue.close();
      reader.close();
      await log.stop();
      await db.drop();
    },
  };
}
