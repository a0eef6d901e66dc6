/**
 * The one place a DynamoDBClient is built. A local endpoint (DynamoDB Local) gets fixed dummy
 * credentials and region, so tests and the demo never pick up a developer's real AWS profile.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** What Sluice needs to reach DynamoDB. */
export interface DynamoClientConfig {
  /** e.g. http://127.0.0.1:18000 for DynamoDB Local; omit for AWS. */
  readonly endpoint?: string;
  /** Default: the SDK's region chain; us-east-1 for a local endpoint. */
  readonly region?: string;
  /** Attempts per call including the first, default 5 (throttling and 5xx are retried). */
  readonly maxAttempts?: number;
  /** Per-request socket timeout, default 10 s (the SDK's default is none). */
  readonly requestTimeoutMs?: number;
}

/** Region and credentials DynamoDB Local accepts; it ignores their values. */
export const LOCAL_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Builds a DynamoDB client; a localhost endpoint is treated as DynamoDB Local. */
export function createDynamoClient(config: DynamoClientConfig = {}): DynamoDBClient {
  const local = config.endpoint !== undefined && isLocalEndpoint(config.endpoint);
  const region = config.region ?? (local ? LOCAL_REGION : undefined);
  return new DynamoDBClient({
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(region !== undefined ? { region } : {}),
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
    maxAttempts: config.maxAttempts ?? 5,
    requestHandler: { connectionTimeout: 3_000, requestTimeout: config.requestTimeoutMs ?? 10_000 },
  });
}

/** True for endpoints on this machine (localhost, 127.x, ::1). */
export function isLocalEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname;
    return host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '::1';
  } catch {
    return false;
  }
}
