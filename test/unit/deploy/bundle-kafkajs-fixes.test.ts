/**
 * A function bundle must patch the kafkajs copy inside it. The fixes once reached kafkajs through
 * `createRequire(import.meta.url)`, which esbuild leaves as a runtime lookup: beside a bundle in
 * the repository it patched a second kafkajs from node_modules (so the bundled one ran unfixed),
 * and where no node_modules exists — a Lambda — `createKafka` threw "Cannot find module
 * 'kafkajs/src/broker/index.js'". This bundles a small function the way `sluice deploy` does,
 * runs it in plain Node from a directory with no node_modules above it, and asks the bundled
 * kafkajs whether each fix is in place.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, writeUnpacked } from '../../../framework/deploy/bundle.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

const ENTRY = `
import Broker from 'kafkajs/src/broker/index.js';
import RequestQueue from 'kafkajs/src/network/requestQueue/index.js';
import fetchV11 from 'kafkajs/src/protocol/requests/fetch/v11/response.js';
import produce from 'kafkajs/src/protocol/requests/produce/index.js';
import { createKafka } from './framework/kafka/client.js';

export const handler = async () => {
  createKafka({ brokers: ['127.0.0.1:1'], clientId: 'bundle-check' });
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const queue = new RequestQueue({ maxInFlightRequests: null, requestTimeout: 30000, enforceRequestTimeout: false, clientId: 'c', broker: 'b:1', logger: silent });
  const entry = { correlationId: 1, apiKey: 0, apiName: 'Produce', apiVersion: 3, resolve() {}, reject() {} };
  queue.push({ entry, expectResponse: true, sendRequest() {} });
  queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
  const idleTimer = queue.throttleCheckTimeoutId !== null;
  queue.destroy();
  clearTimeout(queue.throttleCheckTimeoutId ?? undefined);
  return { endTxn: Broker.prototype.endTxn.name, fetchParse: fetchV11.parse.name, idleTimer, produce: produce.protocol.name };
};
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-bundle-fixes-'));
  const bundle = await bundleFunction({
    key: 'check',
    entry: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'check.ts' },
    handlerModule: 'check',
    baseDir: ROOT,
  });
  await writeUnpacked(bundle, dir);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kafkajs fixes inside a function bundle', () => {
  it('load without a node_modules and patch the bundled kafkajs: EndTxn retries, read_committed filtering, no idle timer, one-buffer Produce encoding', async () => {
    const script = `const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'check.mjs')).href)});
      console.log(JSON.stringify(await handler()));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir });
    expect(JSON.parse(stdout)).toEqual({ endTxn: 'endTxnWithRetries', fetchParse: 'parseDroppingAborted', idleTimer: false, produce: 'produceInOneBuffer' });
  });
});
