import { describe, expect, it } from 'vitest';
import { loadInfraConfig } from '../../../framework/local/infra/config.js';
import { compile, json, pipeline } from '../../../framework/index.js';
import { parsePipelineSpec, topologyFromModule } from '../../../framework/ops/pipeline-module.js';
import { resolveConnection } from '../../../framework/ops/target.js';

const infra = loadInfraConfig({}, '/tmp');

describe('resolveConnection', () => {
  it('defaults to the local broker and DynamoDB Local', () => {
    expect(resolveConnection({ table: 't' }, {}, infra)).toEqual({ brokers: ['127.0.0.1:19092'], table: 't', dynamodbEndpoint: 'http://127.0.0.1:18000', region: undefined });
  });

  it('takes the environment over the defaults and flags over the environment', () => {
    const env = { SLUICE_KAFKA_BROKERS: 'b1:9092,b2:9092', SLUICE_TABLE: 'env-table', SLUICE_DYNAMODB_ENDPOINT: 'http://d:8000', AWS_REGION: 'eu-west-1' };
    expect(resolveConnection({}, env, infra)).toEqual({ brokers: ['b1:9092', 'b2:9092'], table: 'env-table', dynamodbEndpoint: 'http://d:8000', region: 'eu-west-1' });
    expect(resolveConnection({ brokers: 'x:1', table: 'flag-table', dynamodbEndpoint: 'aws', region: 'us-east-2' }, env, infra)).toEqual({ brokers: ['x:1'], table: 'flag-table', dynamodbEndpoint: undefined, region: 'us-east-2' });
  });

  it('needs a table', () => {
    expect(() => resolveConnection({}, {}, infra)).toThrow(/no DynamoDB table given .*--table/);
  });
});

describe('pipeline modules', () => {
  const p = pipeline('shop');
  p.source('orders', { serde: json(), partitions: 1 }).sink('out', { serde: json() });

  it('parse file#export', () => {
    expect(parsePipelineSpec('functions/shop/pipeline.ts#shop')).toEqual({ file: 'functions/shop/pipeline.ts', exportName: 'shop' });
    expect(parsePipelineSpec('pipeline.ts')).toEqual({ file: 'pipeline.ts', exportName: undefined });
    expect(() => parsePipelineSpec('pipeline.ts#')).toThrow(/does not name a pipeline module/);
  });

  it('compile the named pipeline export, or take a compiled topology', () => {
    expect(topologyFromModule({ shop: p, other: 1 }, 'shop', 'm.ts').app).toBe('shop');
    expect(topologyFromModule({ topo: compile(p.plan()) }, 'topo', 'm.ts').app).toBe('shop');
  });

  it('take the only pipeline export when none is named', () => {
    expect(topologyFromModule({ shop: p, helper: () => 1 }, undefined, 'm.ts').app).toBe('shop');
  });

  it('list the pipeline exports when the name is wrong or ambiguous', () => {
    expect(() => topologyFromModule({ shop: p }, 'shp', 'm.ts')).toThrow(/m\.ts has no pipeline export "shp" .*pipeline exports: shop/);
    expect(() => topologyFromModule({ a: p, b: p }, undefined, 'm.ts')).toThrow(/exports 2 pipelines \(a, b\); say which/);
  });
});
