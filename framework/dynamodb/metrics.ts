/** Counts of what a DynamoDB store asked for, for benchmarks, tests and the cost model. */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';

/** The DynamoDB operations Sluice's stores issue. */
export type DynamoOperation = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'TransactWriteItems';

const OPERATIONS: readonly DynamoOperation[] = ['GetItem', 'BatchGetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems'];

/** Counts DynamoDB requests and consumed capacity units per operation. */
export class DynamoMetrics {
  /** Requests sent, per operation (each of our own retries counts; the SDK's internal retries do not). */
  readonly requests: Record<DynamoOperation, number> = zeroes();
  /** Capacity units DynamoDB reported consumed, per operation (DynamoDB Local reports flat numbers). */
  readonly capacityUnits: Record<DynamoOperation, number> = zeroes();
  /** Capacity units by DynamoDB's pricing rules from the item sizes we sent or got (1 KB writes, 4 KB consistent reads). */
  readonly estimatedCapacityUnits: Record<DynamoOperation, number> = zeroes();

  /** Records one request, the capacity DynamoDB reported and our estimate of it. */
  record(op: DynamoOperation, consumed: ConsumedCapacity | ConsumedCapacity[] | undefined, estimated = 0): void {
    this.requests[op] += 1;
    const list = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
    for (const c of list) this.capacityUnits[op] += c.CapacityUnits ?? 0;
    this.estimatedCapacityUnits[op] += estimated;
  }

  /** Requests over all operations. */
  totalRequests(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.requests[op], 0);
  }

  /** Reported capacity units over all operations. */
  totalCapacityUnits(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.capacityUnits[op], 0);
  }

  /** Estimated capacity units over all operations. */
  totalEstimatedCapacityUnits(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.estimatedCapacityUnits[op], 0);
  }

  /** Sets every counter back to zero. */
  reset(): void {
    for (const op of OPERATIONS) {
      this.requests[op] = 0;
      this.capacityUnits[op] = 0;
      this.estimatedCapacityUnits[op] = 0;
    }
  }
}

/** Whether an operation writes (its units are write units). */
export function isWrite(op: DynamoOperation): boolean {
  return op === 'PutItem' || op === 'UpdateItem' || op === 'DeleteItem' || op === 'TransactWriteItems';
}

function zeroes(): Record<DynamoOperation, number> {
  return { GetItem: 0, BatchGetItem: 0, Query: 0, PutItem: 0, UpdateItem: 0, DeleteItem: 0, TransactWriteItems: 0 };
}
