/**
 * A Confluent Schema Registry REST endpoint for integration tests, answering the calls Sluice
 * makes with the status codes and bodies Confluent's API reference specifies:
 * `GET /schemas/ids/{id}` (`{schema, schemaType}`; 404 `{error_code: 40403}`),
 * `POST /subjects/{s}/versions` (`{id}`; one global id per distinct schema) and
 * `POST /subjects/{s}` (`{subject, id, version, schema}`; 404 `{error_code: 40403}`).
 *
 * Used because no real Confluent-compatible registry can be fetched here (docs/schema-registry.md,
 * "Testing"); it stores, it does not check compatibility. `stop()`/`start()` simulate an outage
 * on the same port.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Stored {
  readonly schema: string;
  readonly schemaType: string;
}

/** A running stub: its base URL, what it stored, and the outage switch. */
export interface RegistryStub {
  readonly url: string;
  /** Requests served, as `METHOD path`. */
  readonly requests: string[];
  /** Registers a schema as a producer would (POST /subjects/{s}/versions) and returns its id. */
  register(subject: string, schemaType: 'AVRO' | 'PROTOBUF' | 'JSON', schema: string): number;
  /** Closes the port (connections are refused) until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Starts a stub on a free loopback port. */
export async function startRegistryStub(): Promise<RegistryStub> {
  const schemas: Stored[] = [];
  const subjects = new Map<string, number[]>();
  const requests: string[] = [];

  function register(subject: string, schemaType: string, schema: string): number {
    let index = schemas.findIndex((s) => s.schema === schema && s.schemaType === schemaType);
    if (index < 0) index = schemas.push({ schema, schemaType }) - 1;
    const versions = subjects.get(subject) ?? [];
    if (!versions.includes(index + 1)) versions.push(index + 1);
    subjects.set(subject, versions);
    return index + 1;
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/vnd.schemaregistry.v1+json' });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    requests.push(`${req.method} ${path}`);
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString()) as { schema: string; schemaType?: string }) : undefined;
    let m = /^\/schemas\/ids\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const s = schemas[Number(m[1]) - 1];
      if (!s) return send(res, 404, { error_code: 40403, message: `Schema ${m[1]} not found` });
      return send(res, 200, s.schemaType === 'AVRO' ? { schema: s.schema } : { schema: s.schema, schemaType: s.schemaType });
    }
    m = /^\/subjects\/([^/]+)\/versions$/.exec(path);
    if (req.method === 'POST' && m && body) return send(res, 200, { id: register(decodeURIComponent(m[1]!), body.schemaType ?? 'AVRO', body.schema) });
    m = /^\/subjects\/([^/]+)$/.exec(path);
    if (req.method === 'POST' && m && body) {
      const subject = decodeURIComponent(m[1]!);
      const versions = subjects.get(subject);
      if (!versions) return send(res, 404, { error_code: 40401, message: `Subject '${subject}' not found.` });
      const id = versions.find((v) => schemas[v - 1]!.schema === body.schema && schemas[v - 1]!.schemaType === (body.schemaType ?? 'AVRO'));
      if (id === undefined) return send(res, 404, { error_code: 40403, message: 'Schema not found' });
      return send(res, 200, { subject, id, version: versions.indexOf(id) + 1, schema: body.schema });
    }
    return send(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' });
  }

  let server: Server | undefined;
  let port = 0;
  async function start(): Promise<void> {
    const s = createServer((req, res) => void handle(req, res).catch(() => send(res, 500, { error_code: 50001, message: 'stub error' })));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }
  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  await start();
  return { url: `http://127.0.0.1:${port}`, requests, register, stop, start };
}
