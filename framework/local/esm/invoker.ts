/** How the trigger emulator calls a stage: in-process, or through a Lambda Invoke API (serverless-offline, LocalStack). */
import type { LambdaKafkaEvent } from '../../lambda/event.js';

/** Calls a function with a Kafka event; rejects when the function failed (Lambda then retries). */
export interface Invoker {
  invoke(functionName: string, event: LambdaKafkaEvent): Promise<unknown>;
}

/** A handler as the in-process invoker calls it. */
export type InProcessHandler = (event: LambdaKafkaEvent) => Promise<unknown>;

/** Options of inProcessInvoker. */
export interface InProcessInvokerOptions {
  /** Whether a failed invocation's container is thrown away (e.g. a simulated crash); default: kept, as Lambda keeps it after an error. */
  readonly discard?: (error: unknown) => boolean;
}

/** The in-process invoker, with how many containers it started per function. */
export interface InProcessInvoker extends Invoker {
  /** Containers (handler instances) created per function: the cold starts. */
  readonly containers: Readonly<Record<string, number>>;
}

/**
 * Invokes handlers in this process the way Lambda runs them: each function has a pool of
 * containers, a container (one handler instance from the function's factory, with its own
 * clients and warm caches) serves one invocation at a time, and a concurrent invocation gets an
 * idle container or a new one. The event goes through a JSON round trip, as Lambda hands the
 * function a parsed copy.
 *
 * One handler for concurrent invocations would not be Lambda: a control invocation's recovery
 * could then fence the producer a data invocation of the same container is using mid-transaction.
 */
export function inProcessInvoker(factories: Readonly<Record<string, () => InProcessHandler>>, options: InProcessInvokerOptions = {}): InProcessInvoker {
  const idle = new Map<string, InProcessHandler[]>();
  const containers: Record<string, number> = {};
  return {
    containers,
    async invoke(functionName, event) {
      const factory = factories[functionName];
      if (!factory) throw new Error(`no in-process handler named "${functionName}" (have: ${Object.keys(factories).join(', ')})`);
      let free = idle.get(functionName);
      if (!free) idle.set(functionName, (free = []));
      let handler = free.pop();
      if (!handler) {
        handler = factory();
        containers[functionName] = (containers[functionName] ?? 0) + 1;
      }
      let keep = true;
      try {
        return await handler(JSON.parse(JSON.stringify(event)) as LambdaKafkaEvent);
      } catch (error) {
        keep = !options.discard?.(error);
        throw error;
      } finally {
        if (keep) free.push(handler);
      }
    },
  };
}
