#!/usr/bin/env node
// `npm run console:build`: builds the operator console (console/ → console/dist) unless the build is
// newer than every source file; installs console/'s own dependencies first when they are missing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'console');
const built = join(root, 'dist', 'index.html');
const sources = ['src', 'index.html', 'vite.config.ts', 'tsconfig.json', 'package.json', 'package-lock.json'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

const force = process.argv.includes('--force');
if (!force && existsSync(built) && statSync(built).mtimeMs > Math.max(...sources.map((s) => newest(join(root, s))))) process.exit(0);

console.log('building the operator console (console/ → console/dist)…');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
try {
  if (!existsSync(join(root, 'node_modules', '.bin', 'vite'))) {
    execFileSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // Always a production build (React's development build double-runs effects), whatever NODE_ENV the caller has (jest: test).
  execFileSync(npm, ['run', '--silent', 'build', '--', '--logLevel', 'error'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
} catch (err) {
  console.error(`console build failed: ${err.message}`);
  process.exit(1);
}
