/**
 * The topics a deployed app needs, as a manifest (`topics.json` beside the packaged service):
 * internal topics Sluice creates (`managed`) with the partition counts the topology was compiled
 * for, and external sources and sinks that must already exist. `sluice topics create` reads it.
 */
import type { TopicSpec as AdminTopicSpec } from '../kafka/admin.js';
import type { Topology } from '../topology/topology.js';
import { managedTopicConfigs } from '../topology/names.js';

/** One topic of the manifest. */
export interface ManifestTopic {
  readonly name: string;
  readonly partitions: number;
  /** What the topic is for: source, internal, control, progress, dead-letter, sink, late... */
  readonly role: string;
  /** True: `sluice topics create` creates it. False: it must exist (a source or sink of the app). */
  readonly managed: boolean;
}

/** `topics.json`. */
export interface TopicsManifest {
  readonly app: string;
  /** Brokers from `custom.sluice.kafka`, when known at package time. */
  readonly bootstrapServers: readonly string[] | undefined;
  /** `custom.sluice.topics.replicationFactor`; undefined = the broker's default. */
  readonly replicationFactor: number | undefined;
  readonly configs: Readonly<Record<string, string>>;
  readonly topics: readonly ManifestTopic[];
}

/** Name of the manifest file in the package directory. */
export const TOPICS_MANIFEST_FILE = 'topics.json';

/** Where and how the topics are created; all optional. */
export interface ManifestOptions {
  readonly bootstrapServers?: readonly string[] | undefined;
  readonly replicationFactor?: number | undefined;
  readonly configs?: Readonly<Record<string, string>>;
}

/** The manifest of a topology. */
export function topicsManifest(topology: Topology, options: ManifestOptions = {}): TopicsManifest {
  return {
    app: topology.app,
    bootstrapServers: options.bootstrapServers,
    replicationFactor: options.replicationFactor,
    configs: options.configs ?? {},
    topics: topology.topics.map((t) => ({ name: t.name, partitions: t.partitions, role: t.role, managed: t.managed })),
  };
}

/** What `ensureTopics` should create: the managed topics with the manifest's replication and configs. */
export function topicsToCreate(manifest: TopicsManifest): AdminTopicSpec[] {
  return manifest.topics
    .filter((t) => t.managed)
    .map((t) => ({
      topic: t.name,
      partitions: t.partitions,
      ...(manifest.replicationFactor !== undefined ? { replicationFactor: manifest.replicationFactor } : {}),
      ...(Object.keys({ ...managedTopicConfigs(t.role), ...manifest.configs }).length > 0 ? { configs: { ...managedTopicConfigs(t.role), ...manifest.configs } } : {}),
    }));
}

/** The external topics the app reads or writes, which must exist before it runs. */
export function externalTopics(manifest: TopicsManifest): ManifestTopic[] {
  return manifest.topics.filter((t) => !t.managed);
}
