import { describe, expect, it } from 'vitest';
import { CUSTOM_PROPERTIES, SLUICE_CONFIG_SCHEMA } from '../../../framework/deploy/config-schema.js';
import { ROOT_KEYS } from '../../../framework/deploy/settings.js';
import { STAGE_KEYS } from '../../../framework/deploy/trigger-settings.js';

interface ObjectSchema {
  readonly properties: Record<string, unknown>;
  readonly additionalProperties: unknown;
}

describe('the custom.sluice schema declared to Serverless', () => {
  it('knows exactly the settings the plugin reads, and no others', () => {
    const schema = SLUICE_CONFIG_SCHEMA as unknown as ObjectSchema;
    expect(Object.keys(schema.properties).sort()).toEqual([...ROOT_KEYS].sort());
    expect(schema.additionalProperties).toBe(false);
  });

  it('knows exactly the settings a stage may override', () => {
    const stages = (SLUICE_CONFIG_SCHEMA as unknown as ObjectSchema).properties['stages'] as { additionalProperties: ObjectSchema };
    expect(Object.keys(stages.additionalProperties.properties).sort()).toEqual([...STAGE_KEYS].sort());
    expect(stages.additionalProperties.additionalProperties).toBe(false);
  });

  it('is declared as custom.sluice, required', () => {
    expect(CUSTOM_PROPERTIES).toEqual({ properties: { sluice: SLUICE_CONFIG_SCHEMA }, required: ['sluice'] });
  });
});
