/**
 * The Yahoo Streaming Benchmark (YSB) as a Sluice pipeline: per advertising campaign, how many
 * ads were viewed in each 10-second window of event time.
 *
 *   ad-events ─▶ [views]      parse + validate (zod) → keep views → project {ad_id, event_time}
 *                             → join ad → campaign (static table, campaigns.ts)
 *             ─keyBy campaign─▶ [counts]  tumbling 10 s windows (1 s allowed lateness) → count
 *                                            ─▶ <app>-campaign-counts   { key, window, value, firing }
 *                                            └ records too late for any window ─▶ <app>.counts.late
 *
 * `ysbPipeline()` builds it with other names (the demo and the tests use unique app and topic
 * names); `ysb` is the instance the handlers deploy (default names, see ysbOptionsFromEnv).
 */
import { z } from 'zod';
import { count, json, pipeline, string, tumbling } from '../../framework/index.js';
import type { Duration, Pipeline, WindowResult } from '../../framework/index.js';
import { campaignOf } from './campaigns.js';

/** Kinds of ad in the benchmark. */
export const AD_TYPES = ['banner', 'modal', 'sponsored-search', 'mail', 'mobile'] as const;
/** What a user did with an ad. */
export const EVENT_TYPES = ['view', 'click', 'purchase'] as const;

/** An ad event as the benchmark's producers write it (event_time in epoch ms). */
export const AdEvent = z.object({
  user_id: z.string().min(1),
  page_id: z.string().min(1),
  ad_id: z.string().min(1),
  ad_type: z.enum(AD_TYPES),
  event_type: z.enum(EVENT_TYPES),
  event_time: z.number().int().nonnegative(),
  ip_address: z.string(),
});
/** An ad event. */
export type AdEvent = z.infer<typeof AdEvent>;

/** A view, projected to what the count needs. */
export interface AdView {
  readonly ad_id: string;
  readonly event_time: number;
}

/** A view joined with its campaign: what the `views` stage sends to `counts`. */
export interface CampaignView extends AdView {
  readonly campaign_id: string;
}

/** One window's count of one campaign, as written to the sink: `key` is the campaign id. */
export type CampaignCount = WindowResult<string, number>;

/** Window size, allowed lateness and out-of-orderness of the benchmark (the generator and oracle use them too). */
export const WINDOW_MS = 10_000;
export const ALLOWED_LATENESS_MS = 1_000;
export const MAX_OUT_OF_ORDERNESS_MS = 2_000;

/** Names and sizes of a YSB pipeline instance. */
export interface YsbOptions {
  /** Pipeline (app) name; default `ysb`. */
  readonly app?: string;
  /** Topic of the ad events; default `ad-events`. */
  readonly sourceTopic?: string;
  /** Topic of the window counts; default `<app>-campaign-counts`. */
  readonly sinkTopic?: string;
  /** Partitions of the source topic; default 2. */
  readonly sourcePartitions?: number;
  /** Partitions of the internal (by campaign) and sink topics; default 4. */
  readonly partitions?: number;
  /**
   * A source partition without data this long is left out of the watermark; default 2 s, so a
   * partition the generator stops writing does not hold the windows of the others back.
   */
  readonly idleTimeout?: Duration;
  /** Where batches commit (PipelineOptions.commit); default `checkpoint` (the benchmark also runs `changelog`). */
  readonly commit?: 'checkpoint' | 'changelog';
  /** Delivery guarantee; default `exactly-once` (the benchmark also runs `at-least-once`). */
  readonly mode?: 'exactly-once' | 'at-least-once';
}

/** Whether an event is a view (the only kind the benchmark counts). */
export function isView(e: AdEvent): boolean {
  return e.event_type === 'view';
}

/** Joins a view with its campaign; a view of an ad in no campaign fails and is dead-lettered, not dropped. */
export function withCampaign(view: AdView): CampaignView {
  const campaign_id = campaignOf(view.ad_id);
  if (campaign_id === undefined) throw new Error(`ad ${view.ad_id} belongs to no campaign`);
  return { ad_id: view.ad_id, event_time: view.event_time, campaign_id };
}

/** Builds a YSB pipeline; stages `views` and `counts`. */
export function ysbPipeline(options: YsbOptions = {}): Pipeline {
  const app = options.app ?? 'ysb';
  const p = pipeline(app, { partitions: options.partitions ?? 4, idleTimeout: options.idleTimeout ?? '2s', ...(options.mode ? { mode: options.mode } : {}), ...(options.commit ? { commit: options.commit } : {}) });
  p.source(options.sourceTopic ?? 'ad-events', {
    serde: json({ schema: AdEvent }),
    eventTime: (e) => e.event_time,
    maxOutOfOrderness: MAX_OUT_OF_ORDERNESS_MS,
    partitions: options.sourcePartitions ?? 2,
  })
    .filter(isView)
    .map((e): AdView => ({ ad_id: e.ad_id, event_time: e.event_time }))
    .map(withCampaign)
    .stage('views')
    // string() keys: the sink's records are keyed by the plain campaign id.
    .keyBy((v) => v.campaign_id, { name: 'campaign', keySerde: string(), serde: json<CampaignView>() })
    .stage('counts')
    .window(tumbling(WINDOW_MS), { allowedLateness: ALLOWED_LATENESS_MS })
    .aggregate(count<CampaignView>())
    .sink(options.sinkTopic ?? `${app}-campaign-counts`, { serde: json<CampaignCount>() });
  return p;
}

/**
 * The names of the deployed instance, from the environment: `SLUICE_YSB_APP` (default `ysb`) and
 * `SLUICE_YSB_SOURCE_TOPIC` (default `ad-events`). serverless.yml sets both in
 * `provider.environment` from the same variables at package time, so the topology the plugin
 * compiles and the one the functions run always agree (the tests deploy unique instances this way).
 */
export function ysbOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): YsbOptions {
  const app = env['SLUICE_YSB_APP'];
  const sourceTopic = env['SLUICE_YSB_SOURCE_TOPIC'];
  return { ...(app ? { app } : {}), ...(sourceTopic ? { sourceTopic } : {}) };
}

/** The YSB pipeline the handlers deploy: default names unless set by the environment (ysbOptionsFromEnv). */
export const ysb = ysbPipeline(ysbOptionsFromEnv());
