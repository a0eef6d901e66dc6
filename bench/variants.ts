/**
 * The Sluice pipelines the benchmark runs: the YSB pipeline of functions/ysb (`ysbPipeline`, with
 * a chosen delivery mode), and its source stage alone (stateless: parse, keep views, project,
 * join the campaign, write keyed by campaign to a topic), built from the same parts.
 */
import { compile, json, pipeline, string } from '../framework/index.js';
import type { Pipeline, Topology } from '../framework/index.js';
import type { AdView, CampaignView } from '../functions/ysb/pipeline.js';
import { adEventAvro, ysbRegistry } from '../functions/ysb/avro.js';
import { AdEvent, isView, MAX_OUT_OF_ORDERNESS_MS, withCampaign, ysbPipeline } from '../functions/ysb/pipeline.js';

/** Delivery mode of a Sluice pipeline. */
export type Mode = 'exactly-once' | 'at-least-once';

/** Which pipeline: the source stage alone, or the whole YSB job. */
export type Variant = 'stateless' | 'ysb';

/** Names and sizes of one benchmark pipeline. */
export interface VariantOptions {
  readonly variant: Variant;
  readonly mode: Mode;
  readonly app: string;
  readonly sourceTopic: string;
  readonly sinkTopic: string;
  readonly sourcePartitions: number;
  readonly partitions: number;
  /** How source records are encoded: JSON text (default) or Avro framed for a schema registry. */
  readonly encoding?: 'json' | 'avro';
  /** Where batches commit (PipelineOptions.commit; default checkpoint). */
  readonly commit?: 'checkpoint' | 'changelog';
}

/** Builds the pipeline of `o`. */
export function benchPipeline(o: VariantOptions): Pipeline {
  const { app, sourceTopic, sinkTopic, sourcePartitions, partitions, mode } = o;
  if (o.variant === 'ysb') return ysbPipeline({ app, sourceTopic, sinkTopic, sourcePartitions, partitions, mode, ...(o.commit ? { commit: o.commit } : {}) });
  // The views stage of ysbPipeline() with its settings; what it sends to `counts` goes to a topic, keyed by campaign.
  const p = pipeline(app, { partitions, idleTimeout: '2s', mode, ...(o.commit ? { commit: o.commit } : {}) });
  const serde = o.encoding === 'avro' ? adEventAvro(ysbRegistry()) : json({ schema: AdEvent });
  p.source(sourceTopic, { serde, eventTime: (e) => e.event_time, maxOutOfOrderness: MAX_OUT_OF_ORDERNESS_MS, partitions: sourcePartitions })
    .filter(isView)
    .map((e): AdView => ({ ad_id: e.ad_id, event_time: e.event_time }))
    .map(withCampaign)
    .stage('views')
    .sink(sinkTopic, { serde: json<CampaignView>(), key: (v) => v.campaign_id, keySerde: string() });
  return p;
}

/** Compiles the pipeline of `o`. */
export function benchTopology(o: VariantOptions): Topology {
  return compile(benchPipeline(o).plan());
}
