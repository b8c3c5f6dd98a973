#!/usr/bin/env node
// Entry point for `npx ctlog` and `npm start`: runs the TypeScript sources through tsx,
// so a checkout needs no build step after `npm ci`.
import { register } from 'tsx/esm/api';

register();
await import('../src/bin/ctlog.ts');
