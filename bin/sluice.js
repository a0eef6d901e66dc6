#!/usr/bin/env node
// Launcher for the `sluice` command: Sluice ships TypeScript sources, so register tsx's ESM
// loader first, then run the CLI entry point.
import { register } from 'tsx/esm/api';

register();
await import('../framework/cli/main.ts');
