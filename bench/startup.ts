// Start-up time and memory of `ctlog serve` (embedded SQLite, the shipped shards.yaml), run
// two ways: the development path (bin/ctlog.mjs -> src/ through tsx) and the production path
// (the compiled dist/ of `npm run build`, laid out as the Docker image is: no src/, no tsx).
// Start-up is spawn -> the "listening" line, on a data directory that already exists (keys
// and schema made by a first, unmeasured run). RSS is read from /proc after 2 s idle.
// The production figures' limit is the development figure of the same run; `ctlog --help`
// and bare `node` are printed as the floor.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printTable, percentile, type Row } from './table.js';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.argv[2] ?? 5);

function productionLayout(): string {
  const app = mkdtempSync(join(tmpdir(), 'ctlog-bench-startup-'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: ROOT });
  mkdirSync(join(app, 'bin'));
  copyFileSync(join(ROOT, 'bin/ctlog.mjs'), join(app, 'bin/ctlog.mjs'));
  copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  mkdirSync(join(app, 'node_modules'));
  for (const n of readdirSync(join(ROOT, 'node_modules'))) if (!['tsx', 'typescript', '.bin'].includes(n)) symlinkSync(join(ROOT, 'node_modules', n), join(app, 'node_modules', n));
  return app;
}

/** One start of `serve`: ms to the listening line, and RSS (MiB) after 2 s idle. */
async function startOnce(bin: string, data: string, env: NodeJS.ProcessEnv): Promise<{ ms: number; rssMiB: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'serve', '--config', join(ROOT, 'shards.yaml'), '--data', data, '--listen', '127.0.0.1:0'], { env: { ...process.env, CTLOG_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const ms = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      if (/listening on/.test(out)) resolve(performance.now() - t0);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  await new Promise((r) => setTimeout(r, 2000));
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return { ms, rssMiB: rss };
}

function timeCommand(args: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { stdio: 'ignore' });
  return performance.now() - t0;
}

const app = productionLayout();
const variants = [
  { name: 'development (src/ through tsx)', bin: join(ROOT, 'bin/ctlog.mjs'), env: { CTLOG_RUN: 'src' } },
  { name: 'production (dist/, no tsx)', bin: join(app, 'bin/ctlog.mjs'), env: {} },
];
const results: Record<string, { ms: number; rss: number; help: number }> = {};
try {
  for (const v of variants) {
    const data = mkdtempSync(join(tmpdir(), 'ctlog-bench-data-'));
    await startOnce(v.bin, data, v.env); // first run: keys and schema, not measured
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await startOnce(v.bin, data, v.env));
    const help = [];
    for (let i = 0; i < RUNS; i++) help.push(timeCommand([v.bin, '--help']));
    results[v.name] = { ms: percentile(runs.map((r) => r.ms), 50), rss: percentile(runs.map((r) => r.rssMiB), 50), help: percentile(help, 50) };
    rmSync(data, { recursive: true, force: true });
  }
} finally {
  rmSync(app, { recursive: true, force: true });
}
const nodeFloor = percentile(Array.from({ length: RUNS }, () => timeCommand(['-e', ''])), 50);
const [dev, prod] = variants.map((v) => results[v.name]!);
const rows: Row[] = [
  { figure: 'serve start-up, development', value: dev!.ms, unit: 'ms' },
  { figure: 'serve start-up, production (limit: development)', value: prod!.ms, unit: 'ms', target: dev!.ms, goal: 'max' },
  { figure: 'serve RSS after start, development', value: dev!.rss, unit: 'MiB' },
  { figure: 'serve RSS after start, production (limit: development)', value: prod!.rss, unit: 'MiB', target: dev!.rss, goal: 'max' },
  { figure: 'ctlog --help, development', value: dev!.help, unit: 'ms' },
  { figure: 'ctlog --help, production (limit: development)', value: prod!.help, unit: 'ms', target: dev!.help, goal: 'max' },
  { figure: 'bare `node -e ""` (the floor)', value: nodeFloor, unit: 'ms' },
];
const ok = printTable(`ctlog serve start-up and memory, median of ${RUNS} (embedded SQLite, 5 shards; a shared host: ±30 %)`, rows);
process.exitCode = ok ? 0 : 1;
