/**
 * Global setup of the integration project: make sure the local Kafka broker and DynamoDB
 * Local are up, and hand their addresses to the test files through vitest's provide/inject
 * (read them with testKafka()/testDynamo() from ./infra.ts).
 *
 * Teardown policy: stop only what this setup started. A service that was already up
 * before the run (`npx sluice infra up`) stays up, so a developer's edit-test loop does
 * not pay a broker start each time; a run on a clean machine (CI) leaves nothing behind.
 */
import type { TestProject } from 'vitest/node';
import { infraDown, infraUp, SERVICES, type ServiceName } from '../../framework/local/infra/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap servers of the local broker, e.g. ["127.0.0.1:19092"]. */
    kafkaBrokers: string[];
    /** Endpoint of DynamoDB Local, e.g. "http://127.0.0.1:18000". */
    dynamodbEndpoint: string;
  }
}

/** Starts (or reuses) the infrastructure; returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const infra = await infraUp({ log: (line) => console.log(`[infra] ${line}`) });
  project.provide('kafkaBrokers', infra.kafka.brokers);
  project.provide('dynamodbEndpoint', infra.dynamodb.endpoint);
  // What this run started, by the start's own word (a status read before could see a broker mid-restart).
  const startedHere: ServiceName[] = SERVICES.filter((s) => !infra[s].reused);
  return async () => {
    if (startedHere.length > 0) await infraDown({ services: startedHere });
  };
}
