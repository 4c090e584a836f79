/**
 * The terminal report and the `warnings` field: what the verdict does not cover is said next to
 * it, from the skipped requests of a real HAR as harJourney reads it, and counts read as English.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/check/check.js';
import { readHar } from '../../src/check/har.js';
import { harJourney } from '../../src/check/har-journey.js';
import { checkWarnings, formatReport } from '../../src/check/report.js';

const dir = mkdtempSync(join(tmpdir(), 'check-report-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const origin = 'http://localhost:3000';

function entry(url: string, status = 200, type = 'text/html') {
  return {
    startedDateTime: new Date().toISOString(),
    time: 1,
    request: {
      method: 'GET',
      url,
      httpVersion: 'HTTP/1.1',
      headers: [{ name: 'Host', value: new URL(url).host }],
      queryString: [],
      cookies: [],
      headersSize: -1,
      bodySize: -1,
    },
    response: {
      status,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      headers: [],
      cookies: [],
      content: { size: 0, mimeType: type, text: '' },
      redirectURL: '',
      headersSize: -1,
      bodySize: -1,
    },
    cache: {},
    timings: { send: 0, wait: 1, receive: 0 },
  };
}

function journeyOf(name: string, entries: unknown[]) {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ log: { version: '1.2', creator: { name: 'test' }, entries } }));
  return harJourney(readHar(path), path);
}

function result(over: Partial<CheckResult> & { journey: CheckResult['journey'] }): CheckResult {
  return {
    verdict: 'stateless',
    replicas: 3,
    steps: [],
    findings: [],
    warnings: [],
    restart: null,
    noise: { masked: 1 },
    runs: [],
    ms: 1000,
    ...over,
  };
}

describe('warnings: what the verdict does not cover', () => {
  // A Socket.IO chat on the WebSocket transport only, as Chromium records it.
  const chat = () =>
    journeyOf('chat.har', [
      entry(`${origin}/`),
      entry(`${origin}/socket.io/socket.io.js`, 200, 'application/javascript'),
      entry('ws://localhost:3000/socket.io/?EIO=4&transport=websocket', 101, 'x-unknown'),
    ]);

  it('names WebSocket connections and event streams as not replayed, with broadcasts across replicas', () => {
    const j = chat();
    const warnings = checkWarnings({ steps: j.steps.length, skipped: j.skipped }, j.origin);
    expect(warnings.map((w) => w.code)).toEqual(['UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED']);
    expect(warnings[0]!.message).toMatch(
      /1 WebSocket connection \(Socket\.IO over WebSocket\), not replayed/,
    );
    expect(warnings[0]!.message).toMatch(/not replayed: its messages were not checked/);
    expect(warnings[0]!.message).toMatch(/broadcast or a room/);
    expect(warnings[0]!.message).toContain('docs/check.md#what-it-cannot-see');

    const streams = journeyOf('sse.har', [
      entry(`${origin}/`),
      entry(`${origin}/a`),
      entry(`${origin}/live`, 200, 'text/event-stream'),
    ]);
    expect(checkWarnings({ steps: 2, skipped: streams.skipped }, streams.origin)[0]!.message).toMatch(
      /^The recording has 1 event stream, not replayed/,
    );
  });

  it('says so when most recorded requests to the app were skipped, not when they went to a CDN', () => {
    const mostly = journeyOf('mostly.har', [
      entry(`${origin}/`),
      entry(`${origin}/live`, 200, 'text/event-stream'),
      entry(`${origin}/feed`, 200, 'text/event-stream'),
    ]);
    expect(checkWarnings({ steps: 1, skipped: mostly.skipped }, mostly.origin).map((w) => w.code)).toEqual([
      'UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED',
      'UNPINNED_WARN_CHECK_MOSTLY_SKIPPED',
    ]);
    const cdn = journeyOf('cdn.har', [
      entry(`${origin}/`),
      ...['a', 'b', 'c'].map((f) => entry(`https://cdn.example/${f}.js`, 200, 'application/javascript')),
    ]);
    expect(cdn.skipped).toHaveLength(3);
    expect(checkWarnings({ steps: 1, skipped: cdn.skipped }, cdn.origin)).toEqual([]);
  });

  it('prints them right under the verdict line, for either verdict', () => {
    const j = chat();
    const journey = { source: 'chat.har', kind: 'har' as const, steps: j.steps.length, skipped: j.skipped };
    const warnings = checkWarnings({ steps: j.steps.length, skipped: j.skipped }, j.origin);
    const lines = formatReport(result({ journey, warnings })).split('\n');
    expect(lines[0]).toMatch(/^✓ stateless/);
    expect(lines[1]).toMatch(/^ {2}! The recording has 1 WebSocket connection/);
  });
});

describe('the report reads as English', () => {
  it('"1 step", "1 recorded request", and no restart claimed when there was none', () => {
    const j = journeyOf('one.har', [entry(`${origin}/`), entry('https://cdn.example/a.js')]);
    const text = formatReport(
      result({ journey: { source: 'one.har', kind: 'har', steps: 1, skipped: j.skipped } }),
    );
    expect(text).toContain('1 step on 3 replicas');
    expect(text).toContain('1 recorded request not replayed');
    expect(text).toContain('1 noisy value masked');
    expect(text).not.toMatch(/\b1 steps\b/);
    expect(text.split('\n')[0]).not.toContain('after a restart');
  });
});

describe('journey.skipped[].entry', () => {
  it("is the 0-based index into the HAR's log.entries", () => {
    const j = journeyOf('entries.har', [
      entry(`${origin}/`),
      entry('https://cdn.example/a.js'),
      entry(`${origin}/b`),
      entry(`${origin}/live`, 200, 'text/event-stream'),
    ]);
    expect(j.skipped.map((s) => s.entry)).toEqual([1, 3]);
  });
});
