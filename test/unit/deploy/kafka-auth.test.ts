import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../framework/errors.js';
import type { IamToken, KafkaAuthDeps } from '../../../framework/kafka/auth.js';
import { KafkaAuthError, kafkaAuthFromEnv } from '../../../framework/kafka/auth.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_app-AbCdEf';
const CA_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:broker-ca-XyZ';

/** Secrets Manager stand-in: the secret strings by ARN, and which were read. */
function secrets(values: Record<string, string>): KafkaAuthDeps & { readonly reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    secret: async (arn) => {
      reads.push(arn);
      const value = values[arn];
      if (value === undefined) throw new Error(`AccessDeniedException for ${arn}`);
      return value;
    },
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('kafkaAuthFromEnv', () => {
  it('uses plaintext without authentication by default', async () => {
    expect(await kafkaAuthFromEnv({})).toEqual({});
  });

  it('turns TLS on without authentication when SLUICE_KAFKA_TLS is true', async () => {
    expect(await kafkaAuthFromEnv({ SLUICE_KAFKA_TLS: 'true' })).toEqual({ ssl: true });
  });

  it('reads SCRAM-SHA-512 credentials from the secret and uses TLS', async () => {
    const deps = secrets({ [ARN]: JSON.stringify({ username: 'alice', password: 'pw-1' }) });
    const auth = await kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'scram-512', SLUICE_KAFKA_SECRET_ARN: ARN }, deps);
    expect(auth).toEqual({ ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'pw-1' } });
    expect(deps.reads).toEqual([ARN]);
  });

  it('uses SCRAM-SHA-256 over plaintext when TLS is turned off', async () => {
    const deps = secrets({ [ARN]: JSON.stringify({ username: 'bob', password: 'pw-2' }) });
    const auth = await kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'scram-256', SLUICE_KAFKA_SECRET_ARN: ARN, SLUICE_KAFKA_TLS: 'false' }, deps);
    expect(auth).toEqual({ ssl: false, sasl: { mechanism: 'scram-sha-256', username: 'bob', password: 'pw-2' } });
  });

  it('presents the client certificate from the secret for mTLS, with the root CA from its own secret', async () => {
    const deps = secrets({
      [ARN]: JSON.stringify({ certificate: 'CERT', privateKey: 'KEY', privateKeyPassword: 'PASS' }),
      [CA_ARN]: JSON.stringify({ certificate: 'ROOT' }),
    });
    const auth = await kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'mtls', SLUICE_KAFKA_SECRET_ARN: ARN, SLUICE_KAFKA_CA_SECRET_ARN: CA_ARN }, deps);
    expect(auth).toEqual({ ssl: { ca: ['ROOT'], cert: 'CERT', key: 'KEY', passphrase: 'PASS' } });
  });

  it('signs MSK IAM tokens for the region and presents them through SASL OAUTHBEARER', async () => {
    const signed: string[] = [];
    const deps: KafkaAuthDeps = { iamToken: async (region) => (signed.push(region), { token: `tok-${signed.length}`, expiryTime: 900_000 }), now: () => 0 };
    const auth = await kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'iam', AWS_REGION: 'eu-west-1' }, deps);
    expect(auth.ssl).toBe(true);
    expect(auth.sasl?.mechanism).toBe('oauthbearer');
    const provider = (auth.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
    expect(await provider()).toEqual({ value: 'tok-1' });
    expect(signed).toEqual(['eu-west-1']);
  });

  it('reuses an IAM token until a minute before it expires, then signs a new one', async () => {
    let now = 0;
    let n = 0;
    const deps: KafkaAuthDeps = { iamToken: async (): Promise<IamToken> => ({ token: `tok-${++n}`, expiryTime: now + 900_000 }), now: () => now };
    const auth = await kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'iam', AWS_REGION: 'eu-west-1' }, deps);
    const provider = (auth.sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
    expect((await provider()).value).toBe('tok-1');
    now = 830_000;
    expect((await provider()).value).toBe('tok-1');
    now = 840_000;
    expect((await provider()).value).toBe('tok-2');
  });

  it('needs the region for MSK IAM', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'iam' }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).place.field).toBe('AWS_REGION');
  });

  it('rejects an unknown SLUICE_KAFKA_AUTH', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'kerberos' }));
    expect((e as ConfigError).place.field).toBe('SLUICE_KAFKA_AUTH');
  });

  it('needs SLUICE_KAFKA_SECRET_ARN for SCRAM', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'scram-512' }, secrets({})));
    expect((e as ConfigError).place.field).toBe('SLUICE_KAFKA_SECRET_ARN');
  });

  it('names the missing fields of a secret without showing its value', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'scram-512', SLUICE_KAFKA_SECRET_ARN: ARN }, secrets({ [ARN]: JSON.stringify({ user: 'alice', password: 's3cr3t-value' }) })));
    expect(e).toBeInstanceOf(KafkaAuthError);
    expect(e.message).toContain('has no username');
    expect(e.message).not.toContain('s3cr3t-value');
  });

  it('reports a secret that is not JSON without quoting it', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'scram-512', SLUICE_KAFKA_SECRET_ARN: ARN }, secrets({ [ARN]: 'alice:s3cr3t-value' })));
    expect(e.message).toContain(`secret ${ARN} is not JSON`);
    expect(e.message).not.toContain('s3cr3t');
    expect(e.cause).toBeUndefined();
  });

  it('says which secret could not be read', async () => {
    const e = await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'mtls', SLUICE_KAFKA_SECRET_ARN: ARN }, secrets({})));
    expect(e).toBeInstanceOf(KafkaAuthError);
    expect(e.message).toContain(`could not read secret ${ARN}`);
  });

  it('refuses mTLS or IAM with TLS turned off', async () => {
    expect(((await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'mtls', SLUICE_KAFKA_TLS: 'false' }))) as ConfigError).place.field).toBe('SLUICE_KAFKA_TLS');
    expect(((await rejection(kafkaAuthFromEnv({ SLUICE_KAFKA_AUTH: 'iam', SLUICE_KAFKA_TLS: 'false', AWS_REGION: 'x' }))) as ConfigError).place.field).toBe('SLUICE_KAFKA_TLS');
  });
});
