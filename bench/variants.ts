/**
 * The Sluice pipelines the benchmark runs: the YSB pipeline of functions/ysb with a chosen
 * delivery mode, and its source stage alone (stateless: parse, keep views, project, join the
 * campaign, write keyed by campaign to a topic).
 *
 * functions/ysb/pipeline.ts has no `mode` option, so the full pipeline is rebuilt here from the
 * same parts (schema, filter, join, window and lateness constants). `assertSameAsYsb` compares
 * the exactly-once variant with `ysbPipeline()` stage by stage, so the benchmark fails loudly
 * instead of measuring a pipeline that has drifted from the example.
 */
import { isDeepStrictEqual } from 'node:util';
import { compile, count, describeJson, json, pipeline, string, tumbling } from '../framework/index.js';
import type { Pipeline, Topology } from '../framework/index.js';
import type { AdView, CampaignCount, CampaignView } from '../functions/ysb/pipeline.js';
import { AdEvent, ALLOWED_LATENESS_MS, isView, MAX_OUT_OF_ORDERNESS_MS, WINDOW_MS, withCampaign, ysbPipeline } from '../functions/ysb/pipeline.js';

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
}

/** Builds the pipeline of `o`. */
export function benchPipeline(o: VariantOptions): Pipeline {
  // Same settings as ysbPipeline(); only the mode differs.
  const p = pipeline(o.app, { partitions: o.partitions, idleTimeout: '2s', mode: o.mode });
  const views = p
    .source(o.sourceTopic, {
      serde: json({ schema: AdEvent }),
      eventTime: (e) => e.event_time,
      maxOutOfOrderness: MAX_OUT_OF_ORDERNESS_MS,
      partitions: o.sourcePartitions,
    })
    .filter(isView)
    .map((e): AdView => ({ ad_id: e.ad_id, event_time: e.event_time }))
    .map(withCampaign)
    .stage('views');
  if (o.variant === 'stateless') {
    // What the views stage writes to `counts`, written to a topic instead: keyed by campaign.
    views.sink(o.sinkTopic, { serde: json<CampaignView>(), key: (v) => v.campaign_id, keySerde: string() });
    return p;
  }
  views
    .keyBy((v) => v.campaign_id, { name: 'campaign', keySerde: string(), serde: json<CampaignView>() })
    .stage('counts')
    .window(tumbling(WINDOW_MS), { allowedLateness: ALLOWED_LATENESS_MS })
    .aggregate(count<CampaignView>())
    .sink(o.sinkTopic, { serde: json<CampaignCount>() });
  return p;
}

/** Compiles the pipeline of `o`. */
export function benchTopology(o: VariantOptions): Topology {
  return compile(benchPipeline(o).plan());
}

/** Throws if the exactly-once YSB variant differs from functions/ysb's `ysbPipeline()` in anything but its mode. */
export function assertSameAsYsb(o: Omit<VariantOptions, 'variant' | 'mode'>): void {
  const ours = benchTopology({ ...o, variant: 'ysb', mode: 'exactly-once' });
  const theirs = compile(
    ysbPipeline({ app: o.app, sourceTopic: o.sourceTopic, sinkTopic: o.sinkTopic, sourcePartitions: o.sourcePartitions, partitions: o.partitions }).plan(),
  );
  const a = { description: describeJson(ours), settings: ours.settings };
  const b = { description: describeJson(theirs), settings: theirs.settings };
  if (!isDeepStrictEqual(a, b)) {
    throw new Error(
      'bench/variants.ts no longer builds the same YSB pipeline as functions/ysb/pipeline.ts: update benchPipeline()\n' +
        `bench:         ${JSON.stringify(a)}\nfunctions/ysb: ${JSON.stringify(b)}`,
    );
  }
}
