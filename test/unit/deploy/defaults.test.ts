/** The deployment defaults are one set: what the plugin fills in, and what local runs use. */
import { describe, expect, it } from 'vitest';
import { defaultBatchingWindowSeconds, DEPLOY_DEFAULTS, localTriggerDefaults } from '../../../framework/deploy/defaults.js';
import { parseDeploySettings } from '../../../framework/deploy/settings.js';

const minimal = { pipeline: 'functions/ysb/pipeline.ts#ysb', kafka: { type: 'self-managed', bootstrapServers: 'k1:9092', auth: { vpc: { subnetIds: ['subnet-1a'], securityGroupIds: ['sg-9'] } } } };

describe('DEPLOY_DEFAULTS', () => {
  it('is the ticker schedule the plugin deploys when custom.sluice sets none', () => {
    const ticker = parseDeploySettings(minimal).ticker;
    expect(ticker).toEqual({ rate: DEPLOY_DEFAULTS.ticker.rate, intervalSeconds: DEPLOY_DEFAULTS.ticker.intervalSeconds, periodSeconds: DEPLOY_DEFAULTS.ticker.periodSeconds });
  });

  it('gives local runs the same batching and ticker schedule, in milliseconds', () => {
    expect(localTriggerDefaults()).toEqual({
      batchSize: DEPLOY_DEFAULTS.batchSize,
      batchingWindowMs: DEPLOY_DEFAULTS.batchingWindowSeconds * 1000,
      internalBatchingWindowMs: DEPLOY_DEFAULTS.internalBatchingWindowSeconds * 1000,
      tickIntervalMs: DEPLOY_DEFAULTS.ticker.intervalSeconds * 1000,
    });
  });

  it("gives triggers on source topics Lambda's batching window, and triggers on the topics Sluice writes between stages none", () => {
    expect(defaultBatchingWindowSeconds('source')).toBe(0.5);
    expect(defaultBatchingWindowSeconds('internal')).toBe(0);
    expect(defaultBatchingWindowSeconds('control')).toBe(0);
  });
});
