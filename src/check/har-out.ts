/**
 * `--har-out <dir>`: each run of the check as a HAR 1.2 file
 * (http://www.softwareishard.com/blog/har-12-spec/), what was sent and what
 * came back, with the replica that answered in `_replica`. Open two of them in
 * a browser's HAR viewer, or diff them, to see a finding for yourself.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mediaType } from './facts.js';
import { parseCookieHeader } from './har.js';
import type { Run, StepRecord } from './replay.js';

const nv = (pairs: readonly [string, string][]) => pairs.map(([name, value]) => ({ name, value }));

function entry(record: StepRecord, started: number) {
  const { input, response } = record;
  const host = input.headers.find(([n]) => n.toLowerCase() === 'host')?.[1] ?? '127.0.0.1';
  const url = new URL(input.path, `http://${host}`);
  const type = mediaType(response.headers);
  const text = /json|html|xml|^text\/|javascript/.test(type);
  const requestType = input.headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? '';
  return {
    startedDateTime: new Date(started).toISOString(),
    time: response.ms,
    request: {
      method: input.method,
      url: url.href,
      httpVersion: 'HTTP/1.1',
      headers: nv(input.headers),
      queryString: nv([...url.searchParams]),
      cookies: nv(parseCookieHeader(input.headers.find(([n]) => n === 'cookie')?.[1] ?? '')),
      headersSize: -1,
      bodySize: input.body?.length ?? 0,
      ...(input.body ? { postData: { mimeType: requestType, text: input.body.toString('utf8') } } : {}),
    },
    response: {
      status: response.status,
      statusText: response.statusText,
      httpVersion: 'HTTP/1.1',
      headers: nv(response.headers),
      cookies: [],
      content: {
        size: response.body.length,
        mimeType: response.headers.find(([n]) => n === 'content-type')?.[1] ?? '',
        ...(response.body.length
          ? text
            ? { text: response.body.toString('utf8') }
            : { text: response.body.toString('base64'), encoding: 'base64' }
          : {}),
      },
      redirectURL: response.headers.find(([n]) => n === 'location')?.[1] ?? '',
      headersSize: -1,
      bodySize: response.body.length,
    },
    cache: {},
    timings: { send: 0, wait: response.ms, receive: 0 },
    serverIPAddress: '127.0.0.1',
    _replica: record.machine,
    _restarted: record.restarted,
  };
}

/**
 * @example
 * writeRunHar('check-hars', run); // check-hars/rotation.har
 */
export function writeRunHar(dir: string, run: Run): void {
  mkdirSync(dir, { recursive: true });
  let t = Date.now() - run.ms;
  const entries = run.records.map((record) => {
    const e = entry(record, t);
    t += record.response.ms;
    return e;
  });
  const har = {
    log: { version: '1.2', creator: { name: 'unpinned check', version: '1' }, pages: [], entries },
  };
  writeFileSync(join(dir, `${run.plan.name}.har`), `${JSON.stringify(har, null, 2)}\n`);
}
