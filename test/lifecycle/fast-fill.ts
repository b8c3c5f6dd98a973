// Fills a shard fast for the lifecycle test and benchmark: synthetic x509 entries (random
// certificate bytes: the read path serves an x509 entry's bytes as they are) go through the
// real ShardSequencer in large batches, plus the ct-cpp vectors' real certificates and
// precertificates, so the export and the served answers cover both entry types.
import type { LogSigner } from '../../src/signing/index.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { LogStorage, ShardRecord } from '../../src/storage/log-storage.js';
import { RootStore } from '../../src/x509/index.js';
import { pemDer, realSubmission, vectors } from '../read/fill-log.js';
import { syntheticSubmission } from '../helpers/synthetic.js';
import { HeadWitness } from '../../src/storage/head-witness.js';

export async function fastFill(storage: LogStorage, shard: ShardRecord, signer: LogSigner, n: number, o: { clock: () => number; witnessFile: string; certBytes?: number; batch?: number; onProgress?: (done: number) => void }): Promise<void> {
  const batch = o.batch ?? 5000;
  const seq = new ShardSequencer(storage, shard, signer, { witness: new HeadWitness(o.witnessFile, shard), poolSize: batch, poolPeriodMs: 2, sthIntervalMs: 3600_000, clock: o.clock });
  await seq.start();
  const roots = RootStore.fromCerts([pemDer('ctcpp-ca-cert.pem')]);
  const real = vectors().map((v) => realSubmission(v, roots));
  let done = 0;
  for (let b = 0; done < n; b++) {
    const k = Math.min(batch, n - done);
    const subs = Array.from({ length: k }, (_, i) => syntheticSubmission(2 * (done + i), o.certBytes ?? 300));
    // The real entries go into the first batch, in the middle.
    if (b === 0) subs.splice(Math.floor(subs.length / 2), Math.min(real.length, subs.length), ...real.slice(0, subs.length));
    await seq.add(subs.map((s) => s.sub), subs.flatMap((s) => s.issuers));
    done += k;
    o.onProgress?.(done);
  }
  await seq.stop();
}
