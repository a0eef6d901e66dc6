import { describe, expect, it } from 'vitest';
import type { KafkaAuth } from '../../../framework/kafka/auth.js';
import { kafkaClientName } from '../../../framework/kafka/client-choice.js';
import { platformaticConnection } from '../../../framework/kafka/platformatic/connection.js';

describe('kafkaClientName (SLUICE_KAFKA_CLIENT)', () => {
  it('is kafkajs when unset or empty', () => {
    expect(kafkaClientName(undefined, '20.19.0')).toBe('kafkajs');
    expect(kafkaClientName('', '20.19.0')).toBe('kafkajs');
  });

  it('is platformatic on Node 22 or later', () => {
    expect(kafkaClientName('platformatic', '22.23.3')).toBe('platformatic');
    expect(kafkaClientName('platformatic', '24.6.0')).toBe('platformatic');
  });

  it('refuses platformatic on Node 20, naming the field and the runtime to use', () => {
    expect(() => kafkaClientName('platformatic', '20.20.2')).toThrow(expect.objectContaining({ code: 'SLUICE_CONFIG', place: { field: 'SLUICE_KAFKA_CLIENT' }, message: expect.stringMatching(/needs Node 22 or later; this is Node 20\.20\.2.*nodejs22\.x/) }));
  });

  it('refuses an unknown client', () => {
    expect(() => kafkaClientName('librdkafka', '22.23.3')).toThrow(/SLUICE_KAFKA_CLIENT "librdkafka" is not one of kafkajs, platformatic/);
  });
});

describe('platformaticConnection (kafkajs-shaped auth as @platformatic/kafka options)', () => {
  const base = { brokers: ['b1:9092', 'b2:9092'], clientId: 'sluice-app' };

  it('passes brokers and client id, with the timeouts of kafka/client.ts', () => {
    expect(platformaticConnection(base)).toEqual({ clientId: 'sluice-app', bootstrapBrokers: ['b1:9092', 'b2:9092'], connectTimeout: 3_000, requestTimeout: 30_000 });
  });

  it('turns ssl: true into TLS with defaults and keeps TLS options', () => {
    expect(platformaticConnection({ ...base, auth: { ssl: true } }).tls).toEqual({});
    expect(platformaticConnection({ ...base, auth: { ssl: { ca: ['pem'] } } }).tls).toEqual({ ca: ['pem'] });
    expect(platformaticConnection({ ...base, auth: { ssl: false } }).tls).toBeUndefined();
  });

  it('maps SCRAM to the upper-case mechanism names', () => {
    const auth: KafkaAuth = { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } };
    expect(platformaticConnection({ ...base, auth }).sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
  });

  it('asks the OAUTHBEARER provider (MSK IAM) for a token at every authentication', async () => {
    let calls = 0;
    const auth: KafkaAuth = { ssl: true, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: () => Promise.resolve({ value: `token-${++calls}` }) } };
    const sasl = platformaticConnection({ ...base, auth }).sasl!;
    expect(sasl.mechanism).toBe('OAUTHBEARER');
    expect(await sasl.token!()).toBe('token-1');
    expect(await sasl.token!()).toBe('token-2');
  });

  it('refuses an empty broker list', () => {
    expect(() => platformaticConnection({ ...base, brokers: [] })).toThrow(/no Kafka brokers/);
  });
});
