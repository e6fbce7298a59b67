// Install the UI's dependencies and build it when frontend/dist is missing or older than its sources.
// Used by `make up` and the browser tests: `node frontend/scripts/ensure-build.mjs [--force]`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const force = process.argv.includes('--force');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function newest(target) {
  if (!existsSync(target)) return 0;
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(target)) latest = Math.max(latest, newest(path.join(target, entry)));
  return latest;
}

function run(args) {
  console.log(`[ui] npm ${args.join(' ')}`);
  const result = spawnSync(npm, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`[ui] npm ${args.join(' ')} failed with ${result.status ?? result.signal}`);
    process.exit(result.status ?? 1);
  }
}

const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (force || !existsSync(installed) || statSync(lock).mtimeMs > statSync(installed).mtimeMs) {
  run(['ci', '--no-audit', '--no-fund']);
}

const built = path.join(root, 'dist', 'index.html');
const sources = ['src', 'public', 'index.html', 'vite.config.ts', 'package-lock.json', 'tsconfig.app.json'].map((p) =>
  path.join(root, p),
);
const sourceTime = Math.max(...sources.map(newest));
if (force || !existsSync(built) || sourceTime > statSync(built).mtimeMs) {
  run(['run', 'build']);
} else {
  console.log('[ui] frontend/dist is up to date');
}
