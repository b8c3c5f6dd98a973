// The registry of ctlog's commands, in the order --help lists them (within their help group).
// Adding a command: see the top of src/bin/ctlog.ts.
import type { Command } from 'commander';
import { registerCtfe } from './ctfe.js';
import { registerDemoChain } from './demo-chain.js';
import { registerKeygen } from './keygen.js';
import { registerLoad } from './load.js';
import { registerLoglist } from './loglist.js';
import { registerMigrate } from './migrate.js';
import { registerMonitor } from './monitor.js';
import { registerPromote } from './promote.js';
import { registerRead } from './read.js';
import { registerSequencer } from './sequencer.js';
import { registerServe } from './serve.js';
import { registerShard } from './shard.js';

export const COMMANDS: Array<(program: Command) => void> = [
  registerServe,
  registerCtfe,
  registerSequencer,
  registerRead,
  registerMigrate,
  registerShard,
  registerPromote,
  registerKeygen,
  registerLoglist,
  registerMonitor,
  registerLoad,
  registerDemoChain,
];
