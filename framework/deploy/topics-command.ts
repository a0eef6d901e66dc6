/**
 * `sluice topics create|plan`: creates the internal topics of a deployed app with the partition
 * counts its topology was compiled for, from the `topics.json` that `serverless package` writes
 * (or straight from the pipeline module). Run it once before the first deploy and after adding
 * stages: Lambda's Kafka triggers need their topics to exist. Idempotent; a topic that exists with
 * another partition count is an error, never changed.
 *
 * Brokers: --brokers, else the manifest's, else SLUICE_KAFKA_BROKERS. Authentication: the same
 * SLUICE_KAFKA_AUTH / SLUICE_KAFKA_SECRET_ARN / SLUICE_KAFKA_TLS variables the functions get
 * (kafka/auth.ts); with `iam`, your AWS credentials sign the connection.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError } from '../errors.js';
import { ensureTopics } from '../kafka/admin.js';
import { kafkaAuthFromEnv } from '../kafka/auth.js';
import { createKafka } from '../kafka/client.js';
import { externalTopics, topicsManifest, topicsToCreate, TOPICS_MANIFEST_FILE, type TopicsManifest } from './topics.js';
import { loadTopology } from '../ops/pipeline-module.js';

/** Options shared by `topics create` and `topics plan`. */
interface TopicsOptions {
  readonly manifest?: string;
  readonly pipeline?: string;
  readonly brokers?: string;
  readonly replicationFactor?: number;
}

/** Adds the `topics` command family to the program. */
export function registerTopicsCommands(program: Command): void {
  const topics = program.command('topics').description("create a deployed app's internal Kafka topics");
  const withSource = (cmd: Command): Command =>
    cmd
      .option('--manifest <file>', `the ${TOPICS_MANIFEST_FILE} written by serverless package`, `.serverless/${TOPICS_MANIFEST_FILE}`)
      .option('--pipeline <module#export>', 'read the topics from the pipeline module instead of a manifest')
      .option('--replication-factor <n>', "replication factor of new topics (default: the manifest's, else the broker's)", parsePositive);

  withSource(topics.command('plan').description('list the topics and partition counts, without connecting')).action(async (opts: TopicsOptions) => {
    const manifest = await readManifest(opts);
    for (const t of manifest.topics) console.log(`${t.managed ? 'create ' : 'expect '} ${t.name.padEnd(48)} ${String(t.partitions).padStart(5)}  ${t.role}`);
  });

  withSource(topics.command('create').description('create the missing internal topics; check partition counts of existing ones'))
    .option('--brokers <host:port,...>', 'bootstrap servers (default: the manifest, else SLUICE_KAFKA_BROKERS)')
    .action(async (opts: TopicsOptions) => {
      const manifest = await readManifest(opts);
      const brokers = (opts.brokers ?? manifest.bootstrapServers?.join(',') ?? process.env['SLUICE_KAFKA_BROKERS'] ?? '').split(',').filter((b) => b !== '');
      if (brokers.length === 0) throw new ConfigError('no Kafka brokers to create topics on', { field: '--brokers' }, 'pass --brokers, or set SLUICE_KAFKA_BROKERS');
      const kafka = createKafka({ brokers, clientId: `sluice-topics-${manifest.app}`, ...(await kafkaAuthFromEnv(process.env)) });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const result = await ensureTopics(admin, topicsToCreate(manifest));
        for (const t of result.created) console.log(`created  ${t}`);
        for (const t of result.existing) console.log(`exists   ${t}`);
        const present = new Set(await admin.listTopics());
        const missing = externalTopics(manifest).filter((t) => !present.has(t.name));
        for (const t of missing) console.error(`missing  ${t.name} (${t.role}): create it yourself; the app reads or writes it`);
      } finally {
        await admin.disconnect();
      }
    });
}

async function readManifest(opts: TopicsOptions): Promise<TopicsManifest> {
  let manifest: TopicsManifest;
  if (opts.pipeline) {
    const topology = await loadTopology(opts.pipeline);
    manifest = topicsManifest(topology);
  } else {
    const file = opts.manifest ?? `.serverless/${TOPICS_MANIFEST_FILE}`;
    const text = await readFile(file, 'utf8').catch(() => {
      throw new ConfigError(`no topic manifest at ${file}`, { field: '--manifest' }, 'run `npx osls package` first, or pass --pipeline <module#export>');
    });
    manifest = JSON.parse(text) as TopicsManifest;
  }
  return opts.replicationFactor === undefined ? manifest : { ...manifest, replicationFactor: opts.replicationFactor };
}

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}
