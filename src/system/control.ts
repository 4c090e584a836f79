/**
 * The control API of a running system: a small JSON API on loopback that the
 * CLI verbs (`unpinned status`, `deploy`, `scale`, `kill`, `restart-store`) and
 * the dashboard use, so there is one source of truth.
 *
 *   GET  /status                      → SystemStatus
 *   POST /deploy                      → SystemStatus after a rolling deploy
 *   POST /scale          {"servers":n} → SystemStatus
 *   POST /kill           {"server":s}  → SystemStatus
 *   POST /restart-store               → SystemStatus
 *   POST /strategy       {"strategy":s}→ SystemStatus
 *   POST /add                         → SystemStatus with one more server
 *   POST /remove         {"server":s}  → SystemStatus without that server (drained first)
 *   POST /migrate {"cap":s,"idle":s}  → SystemStatus once a move off sticky sessions started
 *   GET  /metrics                     → Prometheus text: the supervisor's and the balancer's metrics
 *
 * An extension adds routes to the same server: the dashboard adds its page, a
 * `GET /events` stream of status snapshots and the synthetic traffic.
 *
 * Browsers can reach loopback too, so every request must name this server in
 * its Host header (a DNS-rebinding page cannot), every POST must be
 * `application/json` (a cross-site form cannot send that without a CORS
 * preflight, which this server never grants), and a POST whose Origin or
 * Sec-Fetch-Site names another origin is refused (the same guard as the
 * balancer's admin API: src/balancer/browser-guard.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { crossOriginReason, declaresJson } from '../balancer/browser-guard.js';
import { SystemError } from './errors.js';
import type { System } from './supervisor.js';

type Handler = (body: Record<string, unknown>) => unknown;
/** A route that answers on its own: a page, a file, an event stream. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What a part built on the control API (the dashboard) adds to it. */
export interface ControlExtension {
  routes?: Record<string, Handler>;
  raw?: Record<string, RawHandler>;
  /** Called when the control server closes. */
  close?: () => void;
}

export function routes(system: System): Record<string, Handler> {
  return {
    'GET /status': () => system.status(),
    'POST /deploy': () => system.deploy(),
    'POST /scale': (body) => system.scale(Number(body.servers)),
    'POST /kill': (body) => system.kill(String(body.server ?? '')),
    'POST /restart-store': () => system.restartStore(),
    'POST /strategy': (body) => system.setStrategy(String(body.strategy ?? '')),
    'POST /add': () => system.add(),
    'POST /remove': (body) => system.remove(String(body.server ?? '')),
    'POST /migrate': (body) =>
      system.migrate({
        ...(body.cap !== undefined && { capMs: seconds(body.cap) }),
        ...(body.idle !== undefined && { idleMs: seconds(body.idle) ?? Number.NaN }),
      }),
  };
}

/** Seconds from a JSON body as milliseconds; `null` stays null (no cap). */
function seconds(value: unknown): number | null {
  if (value === null) return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.round(n * 1000) : Number.NaN;
}

export async function startControl(
  system: System,
  port = 0,
  extension: ControlExtension = {},
): Promise<{ server: Server; url: string }> {
  const table = { ...routes(system), ...extension.routes };
  const raw: Record<string, RawHandler> = { 'GET /metrics': metricsRoute(system), ...extension.raw };
  const hosts = new Set<string>();
  const server = createServer((req, res) => {
    const key = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    if (!hosts.has(req.headers.host ?? '')) {
      send(res, 421, { error: { code: 'UNPINNED_ERR_FORBIDDEN', message: forbidden } });
    } else if (raw[key]) {
      raw[key](req, res);
    } else {
      void handle(table[key], req, res);
    }
  });
  server.on('close', () => extension.close?.());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: whoever can reach this can crash servers.
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  for (const name of ['127.0.0.1', 'localhost']) hosts.add(`${name}:${bound}`);
  return { server, url: `http://127.0.0.1:${bound}` };
}

/** `GET /metrics`: the supervisor's and the balancer's metrics, for Prometheus to scrape. */
function metricsRoute(system: System): RawHandler {
  let registry: Registry | undefined;
  return (_req, res) => {
    if (!registry) {
      registry = new Registry();
      system.registerMetrics(registry);
      system.balancer.registerMetrics(registry);
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
        res.end(text);
      },
      (error: unknown) =>
        send(res, 500, { error: { code: 'UNPINNED_ERR_INTERNAL', message: String(error) } }),
    );
  };
}

const forbidden =
  'The control API answers only requests addressed to 127.0.0.1 or localhost with its port; open the address `unpinned up` printed.';

async function handle(route: Handler | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const crossOrigin = crossOriginReason(req);
    if (crossOrigin)
      throw new SystemError(
        'UNPINNED_ERR_FORBIDDEN',
        `Cross-origin control command refused (${crossOrigin}). Use the dashboard at the address \`unpinned up\` printed, or the CLI verbs.`,
        { statusCode: 403 },
      );
    if (req.method === 'POST' && !declaresJson(req))
      throw new SystemError('UNPINNED_ERR_FORBIDDEN', 'Control commands must be sent as application/json.', {
        statusCode: 415,
      });
    if (!route)
      throw new SystemError('UNPINNED_ERR_UNKNOWN_COMMAND', `No control command ${req.method} ${req.url}.`, {
        statusCode: 404,
      });
    const result = await route(await readJson(req));
    send(res, 200, result);
  } catch (error) {
    const e = error as { code?: string; message?: string; statusCode?: number };
    send(res, e.statusCode ?? 500, {
      error: { code: e.code ?? 'UNPINNED_ERR_INTERNAL', message: e.message },
    });
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 10_000)
      throw new SystemError('UNPINNED_ERR_INVALID_OPTION', 'Request body too large.', { statusCode: 413 });
  }
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : {};
  } catch (cause) {
    throw new SystemError('UNPINNED_ERR_INVALID_OPTION', 'The request body is not JSON.', {
      statusCode: 400,
      cause,
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
