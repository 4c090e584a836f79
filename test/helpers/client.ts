/** A plain HTTP client for tests: one request, full body, no retries of its own. */
import { Agent, request } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

const agent = new Agent({ keepAliveTimeout: 1_000, connections: 16 });

export async function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; dispatcher?: Agent } = {},
): Promise<Reply> {
  const res = await request(url, {
    method: (opts.method ?? 'GET') as 'GET',
    headers: opts.headers,
    body: opts.body,
    dispatcher: opts.dispatcher ?? agent,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** Server name from an echo backend's answer (x-backend header). */
export function servedBy(reply: Reply): string {
  return String(reply.headers['x-backend'] ?? reply.headers['x-served-by'] ?? '?');
}
