/**
 * The YSB campaign table: 100 campaigns of 10 ads each, generated from a fixed seed so the
 * pipeline, the generator and the oracle agree on it without any storage. (The original
 * benchmark keeps this map in Redis; a static map is the in-memory version of that join.)
 */
import { idFrom, prng } from './random.js';

/** One advertising campaign and its ads. */
export interface Campaign {
  readonly campaign_id: string;
  readonly ad_ids: readonly string[];
}

/** Campaigns in the table. */
export const CAMPAIGN_COUNT = 100;
/** Ads per campaign. */
export const ADS_PER_CAMPAIGN = 10;
/** Seed of the table; changing it changes every id. */
export const CAMPAIGN_SEED = 0x5b5eed;

/** Builds `count` campaigns of `adsPerCampaign` ads with ids drawn from `seed`: same arguments, same table. */
export function buildCampaigns(seed = CAMPAIGN_SEED, count = CAMPAIGN_COUNT, adsPerCampaign = ADS_PER_CAMPAIGN): Campaign[] {
  const next = prng(seed);
  return Array.from({ length: count }, () => ({
    campaign_id: idFrom(next),
    ad_ids: Array.from({ length: adsPerCampaign }, () => idFrom(next)),
  }));
}

/** The campaign table the YSB example uses. */
export const CAMPAIGNS: readonly Campaign[] = Object.freeze(buildCampaigns());

const BY_AD: ReadonlyMap<string, string> = new Map(CAMPAIGNS.flatMap((c) => c.ad_ids.map((ad) => [ad, c.campaign_id] as const)));

/** The campaign of an ad, or undefined for an ad in no campaign. */
export function campaignOf(adId: string): string | undefined {
  return BY_AD.get(adId);
}
