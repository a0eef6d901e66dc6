/** How the trigger emulator calls a stage: in-process, or through a Lambda Invoke API (serverless-offline, LocalStack). */
import type { LambdaKafkaEvent } from '../../lambda/event.js';

/** Calls a function with a Kafka event; rejects when the function failed (Lambda then retries). */
export interface Invoker {
  invoke(functionName: string, event: LambdaKafkaEvent): Promise<unknown>;
}

/** A handler as the in-process invoker calls it. */
export type InProcessHandler = (event: LambdaKafkaEvent) => Promise<unknown>;

/** Invokes handlers in this process, passing the event through a JSON round trip as Lambda would. */
export function inProcessInvoker(handlers: Readonly<Record<string, InProcessHandler>>): Invoker {
  return {
    async invoke(functionName, event) {
      const handler = handlers[functionName];
      if (!handler) throw new Error(`no in-process handler named "${functionName}" (have: ${Object.keys(handlers).join(', ')})`);
      return handler(JSON.parse(JSON.stringify(event)) as LambdaKafkaEvent);
    },
  };
}
