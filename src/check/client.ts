/**
 * One request to one replica, exactly as built: no redirects followed (each hop
 * of a journey is its own step, as browsers record them), no cookies added
 * (the jar does that), the body read whole and decoded if the app compressed it.
 */
import { type Agent, request as httpRequest } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

export interface OutgoingRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: [string, string][];
  body: Buffer | null;
}

export interface LiveResponse {
  status: number;
  statusText: string;
  /** Lower-case names, in order, repeated names kept. */
  headers: [string, string][];
  setCookies: string[];
  body: Buffer;
  ms: number;
}

/** RFC 9110 §8.4: undo the content codings Node can undo. */
function decode(body: Buffer, coding: string | undefined): Buffer {
  try {
    for (const c of (coding ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .reverse()) {
      if (c === 'gzip' || c === 'x-gzip') body = gunzipSync(body);
      else if (c === 'deflate') body = inflateSync(body);
      else if (c === 'br') body = brotliDecompressSync(body);
    }
  } catch {
    // Left as sent: it will compare as opaque bytes.
  }
  return body;
}

/**
 * @example
 * const res = await send({ port: 3001, agent }, { method: 'GET', path: '/', headers: [], body: null }, 10_000);
 */
export function send(
  target: { port: number; agent: Agent },
  req: OutgoingRequest,
  timeoutMs: number,
): Promise<LiveResponse> {
  const started = performance.now();
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of req.headers) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : ([] as string[]).concat(prev, value);
  }
  if (req.body) headers['content-length'] = String(req.body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        method: req.method,
        path: req.path,
        headers,
        agent: target.agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const list: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            list.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
          }
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: list,
            setCookies: list.filter(([n]) => n === 'set-cookie').map(([, v]) => v),
            body: decode(Buffer.concat(chunks), res.headers['content-encoding']),
            ms: Math.round(performance.now() - started),
          });
        });
      },
    );
    outgoing.setTimeout(timeoutMs, () =>
      outgoing.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
    );
    outgoing.on('error', reject);
    outgoing.end(req.body ?? undefined);
  });
}
