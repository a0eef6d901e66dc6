import { describe, expect, it } from 'vitest';
import { stageAccess } from '../../../framework/deploy/iam.js';
import { avro, compile, count, findStage, glueRegistry, json, pipeline, string } from '../../../framework/index.js';
import type { GlueSchemaApi } from '../../../framework/index.js';

const api = {} as GlueSchemaApi; // never called: IAM is derived from the topology alone
const VIEW = { type: 'record', name: 'View', fields: [{ name: 'user', type: 'string' }] };
const COUNT = { type: 'record', name: 'Count', fields: [{ name: 'key', type: 'string' }, { name: 'value', type: 'long' }] };

function topology(sinkThroughGlue: boolean) {
  const registry = glueRegistry({ registryName: 'events', api });
  const p = pipeline('iam', { partitions: 2 });
  p.source<{ user: string }>('views', { serde: avro({ schema: VIEW, registry }), partitions: 2 })
    .stage('views')
    .keyBy((v) => v.user, { name: 'user', keySerde: string() })
    .aggregate(count())
    .sink('counts', { serde: sinkThroughGlue ? avro({ schema: COUNT, registry }) : json() });
  return compile(p.plan());
}

describe('schema-registry IAM', () => {
  it('grants glue:GetSchemaVersion only to the stage that reads through Glue', () => {
    const t = topology(false);
    expect(stageAccess(t, findStage(t, 'views')!).schemaRegistryActions).toEqual(['glue:GetSchemaVersion']);
    expect(stageAccess(t, findStage(t, 'by-user')!).schemaRegistryActions).toEqual([]);
  });

  it('grants lookup and registration to a stage that writes through Glue', () => {
    const t = topology(true);
    expect(stageAccess(t, findStage(t, 'by-user')!).schemaRegistryActions).toEqual([
      'glue:CreateSchema',
      'glue:GetSchema',
      'glue:GetSchemaByDefinition',
      'glue:GetSchemaVersion',
      'glue:RegisterSchemaVersion',
    ]);
  });
});
