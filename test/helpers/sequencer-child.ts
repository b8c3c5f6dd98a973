// A sequencer process for crash tests: the real startSequencers() on MariaDB + BullMQ, run as
// a child so that the test can kill -9 it mid-batch. Settings arrive as JSON in CTLOG_CHILD.
import { parseConfig } from '../../src/config/config.js';
import { BullSubmissionConsumer } from '../../src/queue/bullmq-queue.js';
import { startSequencers } from '../../src/sequencer/sequencer-service.js';
import { openDatabase } from '../../src/storage/database.js';
import { LogStorage } from '../../src/storage/log-storage.js';

const o = JSON.parse(process.env.CTLOG_CHILD ?? '{}') as {
  dbUrl: string;
  redisUrl: string;
  /** hex */
  queueKey: string;
  prefix: string;
  dataDir: string;
  keyFile: string;
  shard: string;
  poolSize: number;
  poolPeriodMs: number;
};
const config = parseConfig(
  {
    shards: [
      {
        name: o.shard,
        not_after_start: '2000-01-01T00:00:00Z',
        not_after_limit: '2100-01-01T00:00:00Z',
        key: o.keyFile,
        roots: '/dev/null',
        pool_size: o.poolSize,
        pool_period_ms: o.poolPeriodMs,
        sth_interval_ms: 500,
      },
    ],
  },
  { file: 'child', dataDir: o.dataDir, checkFiles: false },
);
const storage = new LogStorage(openDatabase({ url: o.dbUrl, dataDir: o.dataDir }));
const consumer = new BullSubmissionConsumer({ redisUrl: o.redisUrl, prefix: o.prefix, concurrency: 32, queueKey: Buffer.from(o.queueKey, 'hex') });
const svc = await startSequencers({
  storage,
  consumer,
  shards: config.shards,
  clock: Date.now,
  onFatal: (err) => {
    process.stderr.write(`fatal: ${err.message}\n`);
    process.exit(3);
  },
});
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await svc.close();
  await storage.knex.destroy();
  process.exit(0);
});
