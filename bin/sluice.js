#!/usr/bin/env node
// The `sluice` command. The package runs its built JavaScript (dist/, from `npm run build`); a
// checkout of the repository (framework/ is there, the package does not ship it) runs the
// TypeScript sources through tsx, a dev dependency, with the example's commands (demo, ysb).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const sources = new URL('../framework/cli/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import('../dist/cli/bin.js');
}
