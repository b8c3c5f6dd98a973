#!/usr/bin/env node
// Entry point for `npx ctlog`, `npm start` and the Docker image.
//  - Production: the compiled JavaScript in dist/ (`npm run build`), no TypeScript loader.
//    The image ships dist/ without src/, so dist/ is what runs there.
//  - A checkout: src/ through tsx, no build step after `npm ci`. If dist/ exists but any file
//    in src/ or migrations/ is newer than it, dist/ is stale and src/ runs instead, so an old
//    build never shadows an edit. CTLOG_RUN=src or CTLOG_RUN=dist forces one.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const compiled = join(root, 'dist', 'src', 'bin', 'ctlog.js');

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function useDist() {
  if (process.env.CTLOG_RUN === 'src') return false;
  if (!existsSync(compiled)) {
    if (process.env.CTLOG_RUN === 'dist') throw new Error(`CTLOG_RUN=dist but ${compiled} does not exist: run \`npm run build\``);
    return false;
  }
  if (process.env.CTLOG_RUN === 'dist' || !existsSync(join(root, 'src'))) return true;
  const built = statSync(compiled).mtimeMs;
  return Math.max(newestMtime(join(root, 'src')), newestMtime(join(root, 'migrations'))) <= built;
}

if (useDist()) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/bin/ctlog.ts');
}
