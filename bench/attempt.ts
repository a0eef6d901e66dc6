/**
 * One configuration run, guarded against the shared infrastructure: the broker and DynamoDB Local
 * are shared with other work on this machine, so if either was restarted while a configuration
 * ran its figures mean nothing and it runs once more; a second restart fails it.
 */
import type { Kafka } from 'kafkajs';
import { infraStatus } from '../framework/local/infra/index.js';
import type { Progress } from './progress.js';
import { runConfig, type BenchSettings, type ConfigResult, type ConfigSpec, type RunEnv } from './run.js';

/** Identifies the running broker (cluster id: new on every fresh start) and DynamoDB Local (pid); waits up to 3 minutes for a broker. */
export async function infraIdentity(kafka: Kafka, progress: Progress): Promise<string> {
  const deadline = Date.now() + 180_000;
  for (let warned = false; ; ) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const { clusterId } = await admin.describeCluster();
      const dynamodb = (await infraStatus()).dynamodb;
      return `kafka ${clusterId}, dynamodb ${dynamodb.state === 'up' ? `pid ${dynamodb.pid}` : dynamodb.state}`;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the local broker is unreachable: ${error instanceof Error ? error.message : String(error)}`);
      if (!warned) progress.log('the local broker is unreachable (restarted by another process?); waiting for it…');
      warned = true;
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

/** Runs a configuration (`drainOnly`: its drain phase), again if the infrastructure restarted meanwhile; `runId` names its topics and table. */
export async function runGuarded(spec: ConfigSpec, settings: BenchSettings, env: RunEnv, drainOnly: boolean): Promise<ConfigResult> {
  let result: ConfigResult | undefined;
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    const before = await infraIdentity(env.kafka, env.progress);
    result = await runConfig(spec, settings, { ...env, runId: `${env.runId}${attempt > 1 ? 'r' : ''}` }, drainOnly);
    const after = await infraIdentity(env.kafka, env.progress);
    if (before === after) break;
    env.progress.log(`${env.position} ${spec.name}: the broker or DynamoDB Local was restarted by another process during the run (${before} → ${after})${attempt === 1 ? '; running it again' : ''}`);
    if (attempt === 2) result = { ...result, ok: false, error: `infrastructure restarted during the run (${before} → ${after}); figures discarded` };
  }
  return result!;
}
