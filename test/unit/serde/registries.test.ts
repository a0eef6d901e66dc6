import { describe, expect, it } from 'vitest';
import { RegistryUnavailableError, confluentRegistry, glueRegistry } from '../../../framework/serde/index.js';
import type { GlueSchemaApi } from '../../../framework/serde/index.js';

interface Call { method: string; url: string; auth: string | null; body: unknown }

/** A fetch answering from a table of recorded Confluent REST responses. */
function recordedFetch(answers: Record<string, { status: number; body: unknown }>, calls: Call[]): typeof fetch {
  return (input, init) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const headers = new Headers(init?.headers);
    calls.push({ method, url, auth: headers.get('authorization'), body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const answer = answers[`${method} ${new URL(url).pathname}`] ?? { status: 404, body: { error_code: 40401, message: 'Subject not found' } };
    return Promise.resolve(new Response(JSON.stringify(answer.body), { status: answer.status }));
  };
}

describe('the Confluent REST client', () => {
  it('reads a schema by id, once, sending basic auth', async () => {
    const calls: Call[] = [];
    const registry = confluentRegistry({
      url: 'http://registry:8081/apis/ccompat/v7',
      auth: { username: 'key', password: 'secret' },
      fetch: recordedFetch({ 'GET /apis/ccompat/v7/schemas/ids/7': { status: 200, body: { schema: '"string"' } } }, calls),
    });
    expect(await registry.schemaById('7')).toEqual({ id: '7', format: 'AVRO', text: '"string"' });
    await registry.schemaById('7');
    expect(calls).toEqual([{ method: 'GET', url: 'http://registry:8081/apis/ccompat/v7/schemas/ids/7', auth: `Basic ${Buffer.from('key:secret').toString('base64')}`, body: undefined }]);
  });

  it('answers undefined for an id the registry does not know (error 40403)', async () => {
    const registry = confluentRegistry({ url: 'http://r', fetch: recordedFetch({ 'GET /schemas/ids/9': { status: 404, body: { error_code: 40403, message: 'Schema 9 not found' } } }, []) });
    expect(await registry.schemaById('9')).toBeUndefined();
  });

  it('registers under the subject with the schema type and a bearer token', async () => {
    const calls: Call[] = [];
    const registry = confluentRegistry({ url: 'http://r', auth: { token: () => 't0k' }, fetch: recordedFetch({ 'POST /subjects/ad-events-value/versions': { status: 200, body: { id: 12 } } }, calls) });
    expect(await registry.idForWriting({ format: 'PROTOBUF', text: 'syntax = "proto3";', recordName: 'x.Y' }, 'ad-events-value', true)).toBe('12');
    expect(calls[0]).toEqual({ method: 'POST', url: 'http://r/subjects/ad-events-value/versions', auth: 'Bearer t0k', body: { schema: 'syntax = "proto3";', schemaType: 'PROTOBUF' } });
  });

  it('looks up without registering when autoRegister is off, and fails the invocation if absent', async () => {
    const calls: Call[] = [];
    const registry = confluentRegistry({ url: 'http://r', fetch: recordedFetch({}, calls) });
    await expect(registry.idForWriting({ format: 'AVRO', text: '"string"', recordName: undefined }, 's', false)).rejects.toThrow('not registered under subject "s"');
    expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual(['POST /subjects/s']);
  });

  it('turns 5xx and network failures into RegistryUnavailableError', async () => {
    const down = confluentRegistry({ url: 'http://r', fetch: recordedFetch({ 'GET /schemas/ids/1': { status: 503, body: { message: 'busy' } } }, []) });
    await expect(down.schemaById('1')).rejects.toBeInstanceOf(RegistryUnavailableError);
    const unreachable = confluentRegistry({ url: 'http://r', fetch: () => Promise.reject(new TypeError('fetch failed')) });
    await expect(unreachable.schemaById('1')).rejects.toThrow('GET /schemas/ids/1 failed: fetch failed');
  });
});

describe('the Glue client', () => {
  const UUID = '0f8e2b1c-3d4e-4f50-8a6b-7c8d9e0f1a2b';
  function fakeApi(calls: string[]): GlueSchemaApi {
    return {
      getSchemaVersion: (id) => {
        calls.push(`GetSchemaVersion ${id}`);
        return Promise.resolve(id === UUID ? { format: 'AVRO', definition: '"string"', status: 'AVAILABLE' } : undefined);
      },
      getSchemaByDefinition: (r, s) => {
        calls.push(`GetSchemaByDefinition ${r}/${s}`);
        return Promise.resolve(undefined);
      },
      registerSchemaVersion: (r, s) => {
        calls.push(`RegisterSchemaVersion ${r}/${s}`);
        return Promise.resolve(undefined);
      },
      createSchema: (r, s, f) => {
        calls.push(`CreateSchema ${r}/${s} ${f}`);
        return Promise.resolve({ versionId: UUID, status: 'AVAILABLE' });
      },
    };
  }

  it('reads a version by id once and says which IAM actions it needs', async () => {
    const calls: string[] = [];
    const registry = glueRegistry({ registryName: 'events', api: fakeApi(calls) });
    expect(await registry.schemaById(UUID)).toEqual({ id: UUID, format: 'AVRO', text: '"string"' });
    await registry.schemaById(UUID);
    expect(await registry.schemaById('00000000-0000-0000-0000-000000000000')).toBeUndefined();
    expect(calls).toEqual([`GetSchemaVersion ${UUID}`, 'GetSchemaVersion 00000000-0000-0000-0000-000000000000']);
    expect(registry.iamActions.read).toEqual(['glue:GetSchemaVersion']);
  });

  it('creates the schema when neither it nor the definition exists', async () => {
    const calls: string[] = [];
    const registry = glueRegistry({ registryName: 'events', api: fakeApi(calls) });
    expect(await registry.idForWriting({ format: 'AVRO', text: '"string"', recordName: undefined }, 'clicks-value', true)).toBe(UUID);
    expect(calls).toEqual(['GetSchemaByDefinition events/clicks-value', 'RegisterSchemaVersion events/clicks-value', 'CreateSchema events/clicks-value AVRO']);
  });
});
