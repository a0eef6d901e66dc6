/**
 * The Lambda Invoke API invoker against a tiny HTTP server that speaks the API's wire shape
 * (POST /2015-03-31/functions/{name}/invocations, X-Amz-Function-Error on a failed function, as
 * AWS and serverless-offline answer). It stands in only for Lambda's HTTP API; the run against
 * real serverless-offline is an integration test.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEvent } from '../../../framework/lambda/decode.js';
import type { LambdaKafkaEvent } from '../../../framework/lambda/event.js';
import { LambdaFunctionError, lambdaApiInvoker } from '../../../framework/local/esm/lambda-api-invoker.js';

interface Seen {
  readonly method: string | undefined;
  readonly path: string;
  readonly invocationType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: unknown;
}

const seen: Seen[] = [];
let server: Server;
let endpoint: string;

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void body(req).then((text) => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url ?? '');
      const name = decodeURIComponent(match?.[1] ?? '');
      seen.push({
        method: req.method,
        path: req.url ?? '',
        invocationType: req.headers['x-amz-invocation-type'] as string | undefined,
        authorization: req.headers.authorization,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      });
      const reply = (status: number, payload: string, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST', ...headers });
        res.end(payload);
      };
      switch (name) {
        case 'svc-dev-views':
          return reply(200, JSON.stringify({ stage: 'views', tasks: [{ task: 'views.0', watermark: 42 }] }));
        case 'svc-dev-empty':
          return reply(200, '');
        case 'svc-dev-boom':
          // The handler threw: Lambda answers 200 with X-Amz-Function-Error and the error as the payload.
          return reply(200, JSON.stringify({ errorType: 'InvocationFailedError', errorMessage: '1 task(s) failed: views.0: fenced', trace: ['at x'] }), { 'x-amz-function-error': 'Unhandled' });
        case 'svc-dev-text-error':
          return reply(200, 'Task timed out after 60.00 seconds', { 'x-amz-function-error': 'Unhandled' });
        default:
          // serverless-offline's (and AWS's) answer for an unknown function.
          return reply(404, JSON.stringify({ Message: `Function not found: ${name}`, Type: 'User' }), { 'x-amzn-errortype': 'ResourceNotFoundException' });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const event: LambdaKafkaEvent = encodeEvent({
  source: 'self-managed',
  bootstrapServers: ['127.0.0.1:19092'],
  batches: [
    {
      topic: 'ad-events',
      partition: 1,
      records: [
        { topic: 'ad-events', partition: 1, offset: 7, timestamp: 1_700_000_000_000, timestampType: 'CREATE_TIME', key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: [{ name: 'h', value: Buffer.from([0, 255]) }] },
      ],
    },
  ],
});

describe('lambdaApiInvoker', () => {
  it('invokes the mapped function name synchronously with the event as the payload and returns the parsed result', async () => {
    const invoker = lambdaApiInvoker({ endpoint, functionName: (stage) => `svc-dev-${stage}` });
    try {
      const result = await invoker.invoke('views', event);
      expect(result).toEqual({ stage: 'views', tasks: [{ task: 'views.0', watermark: 42 }] });
    } finally {
      invoker.close();
    }
    const last = seen[seen.length - 1]!;
    expect(last).toMatchObject({ method: 'POST', path: '/2015-03-31/functions/svc-dev-views/invocations', invocationType: 'RequestResponse' });
    expect(last.body).toEqual(JSON.parse(JSON.stringify(event)));
    // Signed with the dummy local credentials, never a developer's profile.
    expect(last.authorization).toContain('Credential=local/');
  });

  it('returns undefined for an empty payload', async () => {
    const invoker = lambdaApiInvoker({ endpoint, functionName: (stage) => `svc-dev-${stage}` });
    try {
      await expect(invoker.invoke('empty', event)).resolves.toBeUndefined();
    } finally {
      invoker.close();
    }
  });

  it('rejects with the error payload when the function failed (FunctionError), so the trigger retries', async () => {
    const invoker = lambdaApiInvoker({ endpoint, functionName: (stage) => `svc-dev-${stage}` });
    try {
      const error = await invoker.invoke('boom', event).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LambdaFunctionError);
      expect(error).toMatchObject({
        code: 'SLUICE_FUNCTION_ERROR',
        functionName: 'svc-dev-boom',
        functionError: 'Unhandled',
        payload: { errorType: 'InvocationFailedError', errorMessage: '1 task(s) failed: views.0: fenced' },
      });
      expect((error as Error).message).toContain('function svc-dev-boom failed (Unhandled): InvocationFailedError: 1 task(s) failed: views.0: fenced');
      const text = await invoker.invoke('text-error', event).catch((e: unknown) => e);
      expect(text).toMatchObject({ functionError: 'Unhandled', payload: 'Task timed out after 60.00 seconds' });
    } finally {
      invoker.close();
    }
  });

  it('rejects when the API itself fails, e.g. for a function that does not exist', async () => {
    const invoker = lambdaApiInvoker({ endpoint });
    try {
      const error = await invoker.invoke('nope', event).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ResourceNotFoundException' });
      expect(seen[seen.length - 1]!.path).toBe('/2015-03-31/functions/nope/invocations');
    } finally {
      invoker.close();
    }
  });
});
