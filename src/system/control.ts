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
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SystemError } from './errors.js';
import type { System } from './supervisor.js';

type Handler = (body: Record<string, unknown>) => unknown;

export function routes(system: System): Record<string, Handler> {
  return {
    'GET /status': () => system.status(),
    'POST /deploy': () => system.deploy(),
    'POST /scale': (body) => system.scale(Number(body.servers)),
    'POST /kill': (body) => system.kill(String(body.server ?? '')),
    'POST /restart-store': () => system.restartStore(),
    'POST /strategy': (body) => system.setStrategy(String(body.strategy ?? '')),
  };
}

export async function startControl(system: System, port = 0): Promise<{ server: Server; url: string }> {
  const table = routes(system);
  const server = createServer((req, res) => {
    void handle(table, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Loopback only: whoever can reach this can crash servers.
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function handle(
  table: Record<string, Handler>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const route = table[`${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`];
  try {
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
