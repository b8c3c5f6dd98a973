// `npm start` on a fresh clone: install the locked dependencies first if they are missing,
// so that starting the log is one command. Plain Node: it runs before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  process.stderr.write('ctlog: installing dependencies (npm ci)...\n');
  // Exactly the lock file: npm install would rewrite package-lock.json and dirty the checkout.
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
