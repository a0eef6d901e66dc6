/**
 * How a stage's own Kafka client authenticates, from the environment the deploy plugin sets:
 *
 *   SLUICE_KAFKA_AUTH           none | iam | scram-512 | scram-256 | mtls (default none)
 *   SLUICE_KAFKA_SECRET_ARN     SCRAM: secret `{"username","password"}`;
 *                               mTLS: secret `{"certificate","privateKey","privateKeyPassword"?}`
 *                               (the formats Lambda's Kafka trigger reads, so one secret serves both)
 *   SLUICE_KAFKA_CA_SECRET_ARN  optional secret `{"certificate"}`: the brokers' root CA
 *   SLUICE_KAFKA_TLS            true | false (default: true unless the auth is none)
 *   AWS_REGION                  region MSK IAM tokens are signed for (Lambda sets it)
 *
 * MSK IAM uses SASL OAUTHBEARER with tokens from aws-msk-iam-sasl-signer-js. Secrets are read
 * once per container; no secret value ever reaches a log line or an error message.
 */
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import { ConfigError, SluiceError } from '../errors.js';

/** Authentication methods a stage's Kafka client supports. */
export const KAFKA_AUTH_MODES = ['none', 'iam', 'scram-512', 'scram-256', 'mtls'] as const;
/** One of KAFKA_AUTH_MODES. */
export type KafkaAuthMode = (typeof KAFKA_AUTH_MODES)[number];

/** The `ssl` and `sasl` parts of a kafkajs client config (see kafka/client.ts). */
export interface KafkaAuth {
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
}

/** An MSK IAM token and when it expires (epoch ms). */
export interface IamToken {
  readonly token: string;
  readonly expiryTime: number;
}

/** The I/O kafkaAuthFromEnv needs; tests pass fakes, Lambda uses the AWS SDK. */
export interface KafkaAuthDeps {
  /** The SecretString of a Secrets Manager secret. */
  readonly secret?: (arn: string) => Promise<string>;
  /** A fresh MSK IAM auth token for `region`. */
  readonly iamToken?: (region: string) => Promise<IamToken>;
  /** Clock (epoch ms), for token reuse. */
  readonly now?: () => number;
}

/** A Kafka secret could not be read or has the wrong shape. The message never holds the secret. */
export class KafkaAuthError extends SluiceError {
  constructor(message: string, field: string, hint?: string, options?: { cause?: unknown }) {
    super('SLUICE_KAFKA_AUTH', message, { field }, hint, options);
  }
}

/** A token is renewed this long before it expires, so a connection never presents a stale one. */
const TOKEN_RENEWAL_MARGIN_MS = 60_000;

/** Builds the `ssl`/`sasl` settings for kafkajs from the environment (see the module comment). */
export async function kafkaAuthFromEnv(env: NodeJS.ProcessEnv = process.env, deps: KafkaAuthDeps = {}): Promise<KafkaAuth> {
  const mode = authMode(env['SLUICE_KAFKA_AUTH']);
  const tls = tlsFlag(env['SLUICE_KAFKA_TLS'], mode);
  const secret = deps.secret ?? readSecret;
  const caArn = env['SLUICE_KAFKA_CA_SECRET_ARN'];
  const ca = caArn ? (await secretJson(secret, caArn, 'SLUICE_KAFKA_CA_SECRET_ARN', ['certificate'])).certificate : undefined;
  const ssl: boolean | ConnectionOptions = ca !== undefined ? { ca: [ca] } : tls;

  switch (mode) {
    case 'none':
      return tls || ca !== undefined ? { ssl } : {};
    case 'iam': {
      const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
      if (!region) throw new ConfigError('MSK IAM authentication needs the AWS region', { field: 'AWS_REGION' }, 'Lambda sets AWS_REGION; set it when running elsewhere');
      return { ssl, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: iamTokenProvider(region, deps) } };
    }
    case 'scram-512':
    case 'scram-256': {
      const arn = requiredArn(env, mode);
      const { username, password } = await secretJson(secret, arn, 'SLUICE_KAFKA_SECRET_ARN', ['username', 'password']);
      const mechanism = mode === 'scram-512' ? 'scram-sha-512' : 'scram-sha-256';
      return { ssl, sasl: { mechanism, username, password } };
    }
    case 'mtls': {
      const arn = requiredArn(env, mode);
      const s = await secretJson(secret, arn, 'SLUICE_KAFKA_SECRET_ARN', ['certificate', 'privateKey'], ['privateKeyPassword']);
      const base = typeof ssl === 'object' ? ssl : {};
      return { ssl: { ...base, cert: s.certificate, key: s.privateKey, ...(s.privateKeyPassword !== undefined ? { passphrase: s.privateKeyPassword } : {}) } };
    }
  }
}

function authMode(raw: string | undefined): KafkaAuthMode {
  const value = raw === undefined || raw === '' ? 'none' : raw;
  if ((KAFKA_AUTH_MODES as readonly string[]).includes(value)) return value as KafkaAuthMode;
  throw new ConfigError(`SLUICE_KAFKA_AUTH "${value}" is not one of ${KAFKA_AUTH_MODES.join(', ')}`, { field: 'SLUICE_KAFKA_AUTH' });
}

function tlsFlag(raw: string | undefined, mode: KafkaAuthMode): boolean {
  if (raw === undefined || raw === '') return mode !== 'none';
  if (raw === 'true' || raw === 'false') {
    if (raw === 'false' && (mode === 'mtls' || mode === 'iam')) {
      throw new ConfigError(`SLUICE_KAFKA_TLS is false but SLUICE_KAFKA_AUTH ${mode} works over TLS only`, { field: 'SLUICE_KAFKA_TLS' });
    }
    return raw === 'true';
  }
  throw new ConfigError(`SLUICE_KAFKA_TLS "${raw}" is not true or false`, { field: 'SLUICE_KAFKA_TLS' });
}

function requiredArn(env: NodeJS.ProcessEnv, mode: KafkaAuthMode): string {
  const arn = env['SLUICE_KAFKA_SECRET_ARN'];
  if (!arn) throw new ConfigError(`SLUICE_KAFKA_AUTH ${mode} needs SLUICE_KAFKA_SECRET_ARN`, { field: 'SLUICE_KAFKA_SECRET_ARN' }, 'the deploy plugin sets both from custom.sluice.kafka.auth');
  return arn;
}

/** A provider kafkajs calls at every (re)authentication; one token serves until shortly before it expires. */
function iamTokenProvider(region: string, deps: KafkaAuthDeps): () => Promise<{ value: string }> {
  const sign = deps.iamToken ?? signIamToken;
  const now = deps.now ?? Date.now;
  let current: Promise<IamToken> | undefined;
  return async () => {
    let token = current ? await current.catch(() => undefined) : undefined;
    if (!token || token.expiryTime - TOKEN_RENEWAL_MARGIN_MS <= now()) {
      current = sign(region);
      try {
        token = await current;
      } catch (e) {
        current = undefined;
        throw new KafkaAuthError(`could not sign an MSK IAM token for ${region}`, 'SLUICE_KAFKA_AUTH', 'check the function role and AWS credentials', { cause: e });
      }
    }
    return { value: token.token };
  };
}

/** Reads a JSON secret and checks it has the named string fields; errors never echo the value. */
async function secretJson<K extends string, O extends string = never>(
  read: (arn: string) => Promise<string>,
  arn: string,
  field: string,
  required: readonly K[],
  optional: readonly O[] = [],
): Promise<Record<K, string> & Partial<Record<O, string>>> {
  let text: string;
  try {
    text = await read(arn);
  } catch (e) {
    throw new KafkaAuthError(`could not read secret ${arn}`, field, 'check the ARN and that the function role may secretsmanager:GetSecretValue it', { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message quotes the text it choked on: leave it (and the cause) out.
    throw new KafkaAuthError(`secret ${arn} is not JSON`, field, `store ${describeShape(required, optional)}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new KafkaAuthError(`secret ${arn} is not a JSON object`, field, `store ${describeShape(required, optional)}`);
  const o = parsed as Record<string, unknown>;
  const missing = required.filter((k) => typeof o[k] !== 'string' || o[k] === '');
  if (missing.length > 0) throw new KafkaAuthError(`secret ${arn} has no ${missing.join(', ')}`, field, `store ${describeShape(required, optional)}`);
  const bad = optional.filter((k) => o[k] !== undefined && typeof o[k] !== 'string');
  if (bad.length > 0) throw new KafkaAuthError(`secret ${arn}: ${bad.join(', ')} is not a string`, field);
  return o as Record<K, string> & Partial<Record<O, string>>;
}

function describeShape(required: readonly string[], optional: readonly string[]): string {
  return `{${[...required.map((k) => `"${k}"`), ...optional.map((k) => `"${k}"?`)].join(', ')}}`;
}

// Real adapters, loaded on first use so a stage without auth never loads them.

let secretsClient: Promise<(arn: string) => Promise<string>> | undefined;

async function readSecret(arn: string): Promise<string> {
  secretsClient ??= import('@aws-sdk/client-secrets-manager').then(({ SecretsManagerClient, GetSecretValueCommand }) => {
    const client = new SecretsManagerClient({});
    return async (id: string) => {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
      if (out.SecretString !== undefined) return out.SecretString;
      if (out.SecretBinary !== undefined) return Buffer.from(out.SecretBinary).toString('utf8');
      throw new Error('the secret has no value');
    };
  });
  return (await secretsClient)(arn);
}

async function signIamToken(region: string): Promise<IamToken> {
  const { generateAuthToken } = await import('aws-msk-iam-sasl-signer-js');
  return generateAuthToken({ region });
}
