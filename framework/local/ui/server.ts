/**
 * The live local view's HTTP server (`sluice dev --ui`), on node:http alone:
 *   GET /               the page (self-contained: inline CSS and JS, the topology embedded)
 *   GET /api/snapshot   the current DevSnapshot as JSON
 *   GET /api/topology   describeJson(topology) and its layout
 *   GET /api/events     Server-Sent Events: a snapshot on connect, then one every second
 * It listens on 127.0.0.1 by default: the view shows topic names and figures of a local run,
 * and has no authentication.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError } from '../../errors.js';
import { describeJson } from '../../topology/describe.js';
import type { Topology } from '../../topology/topology.js';
import { layoutTopology } from './layout.js';
import { renderPage } from './page.js';
import type { DevSnapshot } from './snapshot.js';

/** The port `sluice dev --ui` listens on when none is given. */
export const DEFAULT_DEV_UI_PORT = 7420;

/** Settings of the live view's server. */
export interface DevUiOptions {
  readonly topology: Topology;
  /** The snapshot to show now (e.g. `() => collector.snapshot()`); called per request and per pushed event. */
  readonly snapshot: () => DevSnapshot;
  /** Port to listen on; 0 or undefined: any free port (see `url`). */
  readonly port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** How often `/api/events` pushes a snapshot (default 1000 ms). */
  readonly pushIntervalMs?: number;
}

/** A running live view. */
export interface DevUi {
  /** e.g. `http://127.0.0.1:7420/` */
  readonly url: string;
  /** Ends the event streams and stops listening. */
  close(): Promise<void>;
}

/** Content-Security-Policy of the page: nothing but its own inline code and this server. */
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/** Starts the server; resolves once it listens. */
export async function startDevUi(options: DevUiOptions): Promise<DevUi> {
  const description = describeJson(options.topology);
  const layout = layoutTopology(description);
  const page = Buffer.from(renderPage(description, layout));
  const topologyJson = Buffer.from(JSON.stringify({ description, layout }));
  const streams = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    try {
      route(req, res);
    } catch (error) {
      send(res, 500, 'application/json; charset=utf-8', JSON.stringify({ error: error instanceof Error ? error.message : String(error) }), req.method === 'HEAD');
    }
  });

  function route(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
      return;
    }
    switch (path) {
      case '/':
      case '/index.html':
        res.setHeader('Content-Security-Policy', CSP);
        send(res, 200, 'text/html; charset=utf-8', page, head);
        return;
      case '/api/snapshot':
        send(res, 200, 'application/json; charset=utf-8', JSON.stringify(options.snapshot()), head);
        return;
      case '/api/topology':
        send(res, 200, 'application/json; charset=utf-8', topologyJson, head);
        return;
      case '/api/events':
        if (head) {
          send(res, 200, 'text/event-stream', '', true);
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
        res.write('retry: 2000\n\n');
        streams.add(res);
        req.on('close', () => streams.delete(res));
        push(res);
        return;
      case '/favicon.ico':
        send(res, 204, 'image/x-icon', '', head);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
    }
  }

  function push(res: ServerResponse): void {
    let body: string;
    try {
      body = JSON.stringify(options.snapshot());
    } catch (error) {
      res.write(`event: failure\ndata: ${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n\n`);
      return;
    }
    res.write(`data: ${body}\n\n`);
  }

  const timer = setInterval(() => {
    for (const res of streams) push(res);
  }, options.pushIntervalMs ?? 1_000);
  timer.unref();

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      clearInterval(timer);
      reject(
        new SluiceError(
          'SLUICE_LOCAL_UI',
          `the live view cannot listen on ${host}:${options.port ?? 0}: ${error.code ?? error.message}`,
          { field: 'port' },
          error.code === 'EADDRINUSE' ? 'another process uses that port: pick another with --ui <port>, or --ui 0 for any free port' : undefined,
          { cause: error },
        ),
      );
    };
    server.once('error', failed);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${shownHost}:${address.port}/`,
    close: async () => {
      clearInterval(timer);
      for (const res of streams) res.end();
      streams.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'Content-Length': Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}
