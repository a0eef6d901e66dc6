/**
 * An Invoker that calls stage functions through the Lambda Invoke API (RequestResponse), as the
 * real Kafka trigger does: serverless-offline (`http://localhost:3002`, function names
 * `<service>-<stage>-<function>`) or LocalStack (`http://localhost:4566`). A function error
 * (`FunctionError` set: the handler threw) rejects with the error payload, so the trigger
 * emulator retries the batch as Lambda would; so does an API error (no such function, ...).
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { isLocalEndpoint } from '../../dynamodb/client.js';
import { SluiceError } from '../../errors.js';
import type { LambdaKafkaEvent } from '../../lambda/event.js';
import type { Invoker } from './invoker.js';

/** Settings of the Invoke API client. */
export interface LambdaApiInvokerOptions {
  /** The Lambda API endpoint, e.g. `http://localhost:3002` (serverless-offline). Omit for AWS. */
  readonly endpoint?: string;
  /** The deployed function's name for the name the emulator invokes (a stage name); default: unchanged. */
  readonly functionName?: (stage: string) => string;
  /** Default: the SDK's region chain; us-east-1 for a local endpoint. */
  readonly region?: string;
  /** Per-invocation socket timeout, default 15 min (Lambda's longest function timeout). */
  readonly requestTimeoutMs?: number;
}

/** What a failed function reported (Lambda's error payload: errorType, errorMessage, trace). */
export interface FunctionErrorPayload {
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly trace?: readonly string[];
  readonly [field: string]: unknown;
}

/** The function ran and failed: Lambda's `FunctionError` was set. */
export class LambdaFunctionError extends SluiceError {
  constructor(
    readonly functionName: string,
    /** `Unhandled` (the handler threw) or `Handled`. */
    readonly functionError: string,
    /** The error payload, parsed when it is JSON. */
    readonly payload: FunctionErrorPayload | string,
  ) {
    const detail = typeof payload === 'string' ? payload : `${payload.errorType ?? 'Error'}: ${payload.errorMessage ?? JSON.stringify(payload)}`;
    super('SLUICE_FUNCTION_ERROR', `function ${functionName} failed (${functionError}): ${detail}`, {}, 'the trigger retries the batch; see the function’s log for the stack trace');
  }
}

/** An Invoker over the Lambda Invoke API. Call `close()` when done to free its sockets. */
export interface LambdaApiInvoker extends Invoker {
  close(): void;
}

/** Region and credentials local Lambda emulators accept (they ignore the values). */
const LOCAL_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Builds an Invoker that calls functions through the Lambda Invoke API. */
export function lambdaApiInvoker(options: LambdaApiInvokerOptions = {}): LambdaApiInvoker {
  const local = options.endpoint !== undefined && isLocalEndpoint(options.endpoint);
  const region = options.region ?? (local ? LOCAL_REGION : undefined);
  const client = new LambdaClient({
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    // Never a developer's real AWS profile against a local emulator.
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
    // The trigger emulator retries failed batches itself (with backoff, like Lambda's ESM).
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: options.requestTimeoutMs ?? 15 * 60_000 },
  });
  const nameOf = options.functionName ?? ((stage: string) => stage);
  return {
    async invoke(stage: string, event: LambdaKafkaEvent): Promise<unknown> {
      const functionName = nameOf(stage);
      const out = await client.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: Buffer.from(JSON.stringify(event)) }),
      );
      const payload = parsePayload(out.Payload);
      if (out.FunctionError) throw new LambdaFunctionError(functionName, out.FunctionError, asErrorPayload(payload));
      return payload;
    },
    close() {
      client.destroy();
    },
  };
}

/** The response payload: JSON when it parses (a handler's return value), else the text; undefined when empty. */
function parsePayload(bytes: Uint8Array | undefined): unknown {
  if (!bytes || bytes.length === 0) return undefined;
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function asErrorPayload(payload: unknown): FunctionErrorPayload | string {
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) return payload as FunctionErrorPayload;
  return payload === undefined ? '(no error payload)' : typeof payload === 'string' ? payload : JSON.stringify(payload);
}
