/**
 * Creating and deleting an app's table (layout.ts): on-demand capacity, `pk`/`sk` string keys,
 * TTL on `ttl`. Both are idempotent, so tests, the demo and deploy scripts can call them freely.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { SluiceError } from '../errors.js';
import { TABLE_ATTRIBUTES } from './layout.js';

/** How long createTable/deleteTable wait for the table to become ACTIVE / go away, in seconds. */
const WAIT_SECONDS = 120;

/** A table could not be created, configured or deleted. */
export class TableSetupError extends SluiceError {
  constructor(message: string, hint: string, cause: unknown) {
    super('SLUICE_DYNAMODB_TABLE', message, {}, hint, { cause });
  }
}

/** Creates the app's table (or finds it) and waits until it is ACTIVE with TTL enabled on `ttl`. */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_ATTRIBUTES.pk, AttributeType: 'S' },
          { AttributeName: TABLE_ATTRIBUTES.sk, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_ATTRIBUTES.pk, KeyType: 'HASH' },
          { AttributeName: TABLE_ATTRIBUTES.sk, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (err) {
    // Already there (or being created by someone else): wait for it like for our own.
    if (!(err instanceof ResourceInUseException)) throw setupError('create', tableName, err);
  }
  try {
    await waitUntilTableExists({ client, maxWaitTime: WAIT_SECONDS, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
    if (status !== 'ENABLED' && status !== 'ENABLING') {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: TABLE_ATTRIBUTES.ttl, Enabled: true },
        }),
      );
    }
  } catch (err) {
    throw setupError('configure', tableName, err);
  }
}

/** Deletes the table if it exists and waits until it is gone. */
export async function deleteTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return;
    // Still being created or updated: wait for it, then delete.
    if (!(err instanceof ResourceInUseException)) throw setupError('delete', tableName, err);
    await waitUntilTableExists({ client, maxWaitTime: WAIT_SECONDS, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
    await deleteTable(client, tableName);
    return;
  }
  try {
    await waitUntilTableNotExists({ client, maxWaitTime: WAIT_SECONDS, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
  } catch (err) {
    throw setupError('delete', tableName, err);
  }
}

function setupError(what: 'create' | 'configure' | 'delete', tableName: string, err: unknown): TableSetupError {
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new TableSetupError(
    `could not ${what} DynamoDB table ${tableName}: ${detail}`,
    'check the endpoint and credentials (for DynamoDB Local: `sluice infra up`), and that the role may manage tables',
    err,
  );
}
