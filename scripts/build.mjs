// `npm run build`: framework/ → dist/ with tsc (tsconfig.build.json: JavaScript, declarations,
// source maps with the TypeScript inlined, since the package does not ship framework/), then the
// files tsc does not copy (data files beside the modules that read them) and the versions
// `sluice init` pins (dist/cli/init-versions.json, from package-lock.json).
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'framework');
const out = join(root, 'dist');

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

/** Data files modules read at run time, by extension. */
const ASSETS = new Set(['.json', '.txt']);
function copyAssets(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) copyAssets(path);
    else if (ASSETS.has(extname(name))) cpSync(path, join(out, relative(src, path)));
  }
}
copyAssets(src);

const PINNED = ['@types/node', 'osls', 'typescript', 'vitest'];
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const versions = Object.fromEntries(PINNED.map((name) => [name, lock.packages[`node_modules/${name}`].version]));
writeFileSync(join(out, 'cli/init-versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
console.log(`built ${relative(process.cwd(), out) || '.'}/ (init pins ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(', ')})`);
