/**
 * What Sluice's state and commit code assume of DynamoDB, checked against DynamoDB Local:
 * all-or-nothing TransactWriteItems, conditional writes, idempotent client request tokens.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
  GetItemCommand,
  IdempotentParameterMismatchException,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  waitUntilTableExists,
  type AttributeValue,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDynamo, uniqueName } from '../support/infra.js';

const dynamo = testDynamo();
const table = uniqueName('sluice-test-ddb');

beforeAll(async () => {
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: dynamo, minDelay: 1, maxWaitTime: 20 }, { TableName: table });
});

afterAll(async () => {
  await dynamo.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  dynamo.destroy();
});

async function get(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
}

function put(pk: string, attrs: Record<string, AttributeValue> = {}): TransactWriteItem {
  return { Put: { TableName: table, Item: { pk: { S: pk }, ...attrs } } };
}

function add(pk: string, n: number): TransactWriteItem {
  return {
    Update: {
      TableName: table,
      Key: { pk: { S: pk } },
      UpdateExpression: 'ADD n :n',
      ExpressionAttributeValues: { ':n': { N: String(n) } },
    },
  };
}

function versionIs(pk: string, version: number): TransactWriteItem {
  return {
    ConditionCheck: {
      TableName: table,
      Key: { pk: { S: pk } },
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':v': { N: String(version) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

describe('TransactWriteItems', () => {
  it('writes nothing when one ConditionCheck fails, and the CancellationReasons point at that item', async () => {
    const guard = uniqueName('guard');
    const item = uniqueName('item');
    const counter = uniqueName('counter');
    await dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: guard }, version: { N: '1' } } }));

    const error: unknown = await dynamo
      .send(new TransactWriteItemsCommand({ TransactItems: [put(item), add(counter, 5), versionIs(guard, 2)] }))
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TransactionCanceledException);
    const reasons = (error as TransactionCanceledException).CancellationReasons;
    expect(reasons?.map((r) => r.Code)).toEqual(['None', 'None', 'ConditionalCheckFailed']);
    expect(reasons?.[2]?.Item).toEqual({ pk: { S: guard }, version: { N: '1' } });
    expect(await get(item)).toBeUndefined();
    expect(await get(counter)).toBeUndefined();
  });

  it('writes every item when all conditions hold', async () => {
    const guard = uniqueName('guard');
    const item = uniqueName('item');
    const counter = uniqueName('counter');
    await dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: guard }, version: { N: '2' } } }));

    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: [put(item, { v: { S: 'x' } }), add(counter, 5), versionIs(guard, 2)] }));

    expect(await get(item)).toEqual({ pk: { S: item }, v: { S: 'x' } });
    expect(await get(counter)).toEqual({ pk: { S: counter }, n: { N: '5' } });
  });

  it('applies a request once per ClientRequestToken: a retry with the same token and items is a no-op', async () => {
    const counter = uniqueName('counter');
    const token = uniqueName('token');
    const request = (): TransactWriteItemsCommand => new TransactWriteItemsCommand({ ClientRequestToken: token, TransactItems: [add(counter, 1)] });

    await dynamo.send(request());
    await dynamo.send(request());

    expect(await get(counter)).toEqual({ pk: { S: counter }, n: { N: '1' } });
  });

  it('rejects the same ClientRequestToken with different items (IdempotentParameterMismatchException)', async () => {
    const counter = uniqueName('counter');
    const token = uniqueName('token');
    await dynamo.send(new TransactWriteItemsCommand({ ClientRequestToken: token, TransactItems: [add(counter, 1)] }));

    const retry = dynamo.send(new TransactWriteItemsCommand({ ClientRequestToken: token, TransactItems: [add(counter, 2)] }));

    await expect(retry).rejects.toBeInstanceOf(IdempotentParameterMismatchException);
    expect(await get(counter)).toEqual({ pk: { S: counter }, n: { N: '1' } });
  });
});

describe('conditional UpdateItem', () => {
  // The fencing pattern: raise an epoch only if the stored one is lower.
  const raiseEpoch = (pk: string, epoch: number): UpdateItemCommand =>
    new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: pk } },
      UpdateExpression: 'SET epoch = :e',
      ConditionExpression: 'attribute_not_exists(epoch) OR epoch < :e',
      ExpressionAttributeValues: { ':e': { N: String(epoch) } },
    });

  it('succeeds while the condition holds', async () => {
    const pk = uniqueName('epoch');
    await dynamo.send(raiseEpoch(pk, 1));
    await dynamo.send(raiseEpoch(pk, 2));
    expect(await get(pk)).toEqual({ pk: { S: pk }, epoch: { N: '2' } });
  });

  it('fails with ConditionalCheckFailedException and changes nothing when the condition does not hold', async () => {
    const pk = uniqueName('epoch');
    await dynamo.send(raiseEpoch(pk, 2));
    await expect(dynamo.send(raiseEpoch(pk, 2))).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(dynamo.send(raiseEpoch(pk, 1))).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(await get(pk)).toEqual({ pk: { S: pk }, epoch: { N: '2' } });
  });
});
