/** Reading HAR files, the live cookie jar, and correlation: what a replay sends. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CookieJar } from '../../src/check/cookie-jar.js';
import { CheckError } from '../../src/check/errors.js';
import { extract, findExtractor, ResponseView } from '../../src/check/extract.js';
import { readHar } from '../../src/check/har.js';
import { harJourney } from '../../src/check/har-journey.js';
import type { ReplaySession, StepInput, StepRecord } from '../../src/check/replay.js';
import { fillSlots, slotsOf } from '../../src/check/slots.js';

const dir = mkdtempSync(join(tmpdir(), 'check-har-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'check', 'hars');

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** One HAR 1.2 entry, shaped as Chrome's and Playwright's. */
function entry(
  method: string,
  url: string,
  response: { status: number; type?: string; text?: string; headers?: [string, string][] },
  request: { headers?: [string, string][]; postData?: { mimeType: string; text: string } } = {},
) {
  return {
    startedDateTime: new Date().toISOString(),
    time: 1,
    request: {
      method,
      url,
      httpVersion: 'HTTP/1.1',
      headers: [['Host', new URL(url).host], ...(request.headers ?? [])].map(([name, value]) => ({
        name,
        value,
      })),
      queryString: [],
      cookies: [],
      headersSize: -1,
      bodySize: -1,
      ...(request.postData && { postData: request.postData }),
    },
    response: {
      status: response.status,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      headers: (response.headers ?? []).map(([name, value]) => ({ name, value })),
      cookies: [],
      content: {
        size: 0,
        mimeType: response.type ?? 'text/html',
        ...(response.text !== undefined && { text: response.text }),
      },
      redirectURL: '',
      headersSize: -1,
      bodySize: -1,
    },
    cache: {},
    timings: { send: 0, wait: 1, receive: 0 },
  };
}

const har = (entries: unknown[]) =>
  JSON.stringify({ log: { version: '1.2', creator: { name: 'test' }, entries } });

describe('readHar', () => {
  it('reads what Playwright recorded', () => {
    const { creator, exchanges } = readHar(join(fixtures, 'csrf-memory.har'));
    expect(creator).toBe('Playwright');
    expect(exchanges.map((e) => `${e.method} ${e.url.pathname} ${e.response.status}`)).toEqual([
      'GET /login 200',
      'POST /login 303',
      'GET /transfer 200',
      'POST /transfer 303',
      'GET /done 200',
    ]);
    expect(exchanges[3]!.body).toMatchObject({ mimeType: 'application/x-www-form-urlencoded' });
    expect(exchanges[3]!.cookies.map(([n]) => n)).toEqual(['connect.sid']);
  });

  it('refuses files that are not HAR, with a message that says how to record one', () => {
    const cases = {
      'missing.har': null,
      'text.har': 'GET / HTTP/1.1',
      'object.har': '{"entries": []}',
      'zip.har': Buffer.from('PK\u0003\u0004rest'),
      'entry.har': har([{ request: { method: 'GET' }, response: {} }]),
    };
    for (const [name, content] of Object.entries(cases)) {
      const path = content === null ? join(dir, name) : file(name, content);
      expect(() => readHar(path)).toThrow(
        expect.objectContaining({
          code: 'UNPINNED_ERR_CHECK_HAR_INVALID',
          message: expect.stringMatching(/Save all as HAR/),
        }),
      );
    }
  });

  it('reads a HAR re-saved as UTF-16 (PowerShell, Notepad "Unicode"), and one with a UTF-8 BOM', () => {
    const text = har([entry('GET', 'https://shop.example/é', { status: 200 })]);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le).swap16();
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
    const noBom = Buffer.from(text, 'utf16le');
    for (const [name, content] of Object.entries({ le, be, bom, noBom })) {
      const { exchanges } = readHar(file(`${name}.har`, content));
      expect(
        exchanges.map((e) => e.url.pathname),
        name,
      ).toEqual(['/%C3%A9']);
    }
  });

  it("posts the form fields of Playwright's content: 'omit' and 'attach', and marks bodies it left out", () => {
    const form = entry(
      'POST',
      'https://shop.example/login',
      { status: 303 },
      {
        headers: [
          ['Content-Type', 'application/x-www-form-urlencoded'],
          ['Content-Length', '24'],
        ],
      },
    );
    // As Playwright writes them: an empty text, the fields in params.
    form.request.postData = {
      mimeType: 'application/x-www-form-urlencoded',
      text: '',
      params: [
        { name: 'user', value: 'ann' },
        { name: 'password', value: 's3cret &' },
      ],
    } as never;
    const json = entry(
      'POST',
      'https://shop.example/api/items',
      { status: 201 },
      {
        headers: [
          ['content-type', 'application/json'],
          ['Content-Length', '22'],
        ],
      },
    );
    json.request.postData = { mimeType: 'application/json', text: '', params: [] } as never;
    json.request.bodySize = 22;
    const boundary = '----WebKitFormBoundaryQ';
    const multipart = entry(
      'POST',
      'https://shop.example/profile',
      { status: 200 },
      {
        headers: [['Content-Type', `multipart/form-data; boundary=${boundary}`]],
      },
    );
    multipart.request.postData = {
      mimeType: `multipart/form-data; boundary=${boundary}`,
      params: [{ name: 'bio', value: 'tea' }],
    } as never;
    // Chromium records no postData at all for a file upload.
    const upload = entry(
      'POST',
      'https://shop.example/avatar',
      { status: 200 },
      {
        headers: [
          ['Content-Type', `multipart/form-data; boundary=${boundary}`],
          ['Content-Length', '2100'],
        ],
      },
    );
    const get = entry('GET', 'https://shop.example/', { status: 200 });
    const { exchanges } = readHar(file('omit.har', har([form, json, multipart, upload, get])));
    expect(exchanges[0]!.body).toEqual({
      mimeType: 'application/x-www-form-urlencoded',
      text: 'user=ann&password=s3cret+%26',
    });
    expect(exchanges[0]!.bodyMissing).toBeNull();
    expect(exchanges[1]!.bodyMissing).toMatchObject({ why: expect.stringMatching(/content: 'omit'/) });
    expect(exchanges[2]!.body!.text).toBe(
      `--${boundary}\r\nContent-Disposition: form-data; name="bio"\r\n\r\ntea\r\n--${boundary}--\r\n`,
    );
    expect(
      slotsOf({ path: '/', query: '', headers: [], body: exchanges[2]!.body }).map((s) => s.value),
    ).toEqual(['tea']);
    expect(exchanges[3]!.bodyMissing).toEqual({
      why: 'browsers do not record file uploads',
      fix: 'write this journey with --script (docs/check.md#a-journey-in-code)',
    });
    expect(exchanges[4]!.bodyMissing).toBeNull();
  });

  it("reads the bodies Playwright's content: 'attach' writes next to the HAR, and never outside its folder", () => {
    const attachDir = mkdtempSync(join(dir, 'attach-'));
    writeFileSync(join(attachDir, 'a1.dat'), 'user=ann&password=secret');
    writeFileSync(join(attachDir, 'p1.html'), '<input name="_csrf" value="t1">');
    const login = entry('POST', 'https://shop.example/login', { status: 303 });
    login.request.postData = {
      mimeType: 'application/x-www-form-urlencoded',
      text: '',
      params: [{ name: 'user', value: 'ann' }],
      _file: 'a1.dat',
    } as never;
    const page = entry('GET', 'https://shop.example/', { status: 200 });
    Object.assign(page.response.content, { _file: 'p1.html', size: 31 });
    const path = join(attachDir, 'journey.har');
    writeFileSync(path, har([login, page]));
    const { exchanges } = readHar(path);
    expect(exchanges[0]!.body!.text).toBe('user=ann&password=secret');
    expect(exchanges[1]!.response.text).toBe('<input name="_csrf" value="t1">');
    for (const name of ['gone.html', '../p1.html', '/etc/hostname']) {
      Object.assign(page.response.content, { _file: name });
      writeFileSync(path, har([page]));
      expect(() => readHar(path), name).toThrow(
        expect.objectContaining({
          code: 'UNPINNED_ERR_CHECK_HAR_INVALID',
          message: expect.stringContaining(name),
        }),
      );
    }
  });

  it('throws only its own error on any JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const path = file('random.har', JSON.stringify({ log: { entries: [value] } }));
        try {
          readHar(path);
        } catch (error) {
          expect(error).toBeInstanceOf(CheckError);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('CookieJar', () => {
  it('follows Path, Max-Age and Expires (RFC 6265) and remembers who set a cookie', () => {
    const jar = new CookieJar();
    const now = 1_000_000;
    jar.store(
      ['sid=a1; Path=/; HttpOnly', 'pref=x; Path=/account', 'old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT'],
      '/login',
      1,
      'replica-2',
      now,
    );
    expect(jar.header('/cart', now)).toBe('sid=a1');
    expect(jar.header('/account/settings', now)).toBe('pref=x; sid=a1');
    expect(jar.header('/accounting', now)).toBe('sid=a1');
    expect(jar.matching('/', now)[0]).toMatchObject({ setAt: 1, setOn: 'replica-2' });
    expect(jar.store(['sid=; Max-Age=0; Path=/'], '/logout', 2, 'replica-3', now)).toEqual([
      { name: 'sid', action: 'cleared', value: '' },
    ]);
    expect(jar.header('/', now)).toBe('');
  });
});

describe('slots', () => {
  it('reads and writes path segments, query, form, JSON and header values', () => {
    const parts = {
      path: '/orders/17',
      query: '?state=s1&page=2',
      headers: [
        ['X-CSRF-Token', 't1'],
        ['Authorization', 'Bearer b1'],
        ['Accept', 'text/html'],
      ] as [string, string][],
      body: { mimeType: 'application/json', text: '{"id":17,"items":[{"sku":"tea"}]}' },
    };
    expect(slotsOf(parts).map((s) => s.value)).toEqual(['orders', '17', 's1', '2', 't1', 'b1', '17', 'tea']);
    const filled = fillSlots(parts, [
      { where: { in: 'path', index: 1 }, value: '18' },
      { where: { in: 'query', name: 'state', occurrence: 0 }, value: 's2' },
      { where: { in: 'header', name: 'authorization', prefix: 'Bearer ' }, value: 'b2' },
      { where: { in: 'json', path: ['id'] }, value: '18' },
    ]);
    expect(filled.path).toBe('/orders/18');
    expect(filled.query).toBe('?state=s2&page=2');
    expect(filled.headers[1]).toEqual(['Authorization', 'Bearer b2']);
    expect(JSON.parse(filled.body!.text)).toEqual({ id: 18, items: [{ sku: 'tea' }] });
  });

  it('rewrites a multipart field and keeps the rest of the body', () => {
    const boundary = '----WebKitFormBoundaryX';
    const text = `--${boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\nold\r\n--${boundary}\r\nContent-Disposition: form-data; name="user"\r\n\r\nann\r\n--${boundary}--\r\n`;
    const parts = {
      path: '/login',
      query: '',
      headers: [],
      body: { mimeType: `multipart/form-data; boundary=${boundary}`, text },
    };
    expect(slotsOf(parts).map((s) => s.value)).toEqual(['login', 'old', 'ann']);
    const filled = fillSlots(parts, [
      { where: { in: 'multipart', name: '_csrf', occurrence: 0 }, value: 'new' },
    ]);
    expect(filled.body!.text).toBe(text.replace('old', 'new'));
  });
});

describe('extractors', () => {
  const view = (text: string, type = 'text/html', headers: [string, string][] = []) =>
    new ResponseView([['content-type', type], ...headers], [], type, text);

  it('finds a value where it sits and reads it again from another answer', () => {
    const cases: [ResponseView, string, ResponseView, string][] = [
      [
        view('', 'text/plain', [['location', '/authorize?state=s1&x=1']]),
        's1',
        view('', 'text/plain', [['location', '/authorize?state=s2']]),
        's2',
      ],
      [
        view('{"data":{"token":"t1"}}', 'application/json'),
        't1',
        view('{"data":{"token":"t2"}}', 'application/json'),
        't2',
      ],
      [
        view('<input name="a" value="t1"><input name="_csrf" value="t1">'),
        't1',
        view('<input name="a" value="z"><input name="_csrf" value="t2">'),
        'z',
      ],
      [
        view('<meta name="csrf-token" content="m1">'),
        'm1',
        view('<meta name="csrf-token" content="m2">'),
        'm2',
      ],
      [
        view('0{"sid":"abcdef","upgrades":[]}', 'text/plain'),
        'abcdef',
        view('0{"sid":"XYZ123","upgrades":[]}', 'text/plain'),
        'XYZ123',
      ],
    ];
    for (const [recorded, value, live, expected] of cases) {
      const extractor = findExtractor(recorded, value);
      expect(extractor, value).not.toBeNull();
      expect(extract(extractor!, live, () => undefined)).toBe(expected);
    }
  });

  it('finds values inside links and escaped JSON, and does not look in scripts or styles', () => {
    expect(findExtractor(view('<a href="/orders/abc123/edit">edit</a>'), 'abc123')).toMatchObject({
      kind: 'text',
    });
    expect(
      findExtractor(view('{"next":"\\/orders\\/x9y8z7"}', 'application/json'), '/orders/x9y8z7'),
    ).toEqual({
      kind: 'json',
      path: ['next'],
    });
    expect(findExtractor(view('var token = "abc123xyz";', 'application/javascript'), 'abc123xyz')).toBeNull();
  });

  it('trusts only a structured place for short values', () => {
    expect(findExtractor(view('page 1 of 10'), '1')).toBeNull();
    expect(findExtractor(view('{"id":1}', 'application/json'), '1')).toEqual({ kind: 'json', path: ['id'] });
  });
});

describe('harJourney', () => {
  const origin = 'https://shop.example';
  const recording = har([
    entry('GET', `${origin}/login`, {
      status: 200,
      text: '<form method="post" action="/login"><input type="hidden" name="_csrf" value="tok-recorded-1"><input name="user"></form>',
    }),
    entry(
      'POST',
      `${origin}/login`,
      { status: 303, headers: [['Location', '/orders/41']] },
      {
        headers: [['Cookie', 'consent=yes; sid=recorded']],
        postData: { mimeType: 'application/x-www-form-urlencoded', text: '_csrf=tok-recorded-1&user=ann' },
      },
    ),
    entry('GET', `${origin}/orders/41`, { status: 200, text: 'order' }),
    entry('GET', `${origin}/users/ann`, { status: 200, text: 'ann' }),
    entry('GET', 'https://fonts.example/font.woff2', { status: 200 }),
    entry('GET', `${origin}/live`, { status: 200, type: 'text/event-stream' }),
  ]);

  /** A session whose "app" answers like the recording, but with fresh values. */
  function session(answers: { headers?: [string, string][]; body?: string }[]) {
    const sent: StepInput[] = [];
    const records: StepRecord[] = [];
    const jar = new CookieJar();
    const s: ReplaySession = {
      records,
      jar,
      async send(input) {
        sent.push(input);
        const answer = answers[records.length] ?? {};
        const record = {
          step: records.length,
          input,
          response: {
            status: 200,
            statusText: 'OK',
            headers: [['content-type', 'text/html'], ...(answer.headers ?? [])],
            setCookies: [],
            body: Buffer.from(answer.body ?? ''),
            ms: 1,
          },
        } as unknown as StepRecord;
        records.push(record);
        return record;
      },
    };
    return { s, sent };
  }

  it('sends live values for what earlier answers produced, never user input, and skips what it cannot replay', async () => {
    const journey = harJourney(readHar(file('j.har', recording)), 'j.har');
    expect(journey.steps.map((s) => s.url.pathname)).toEqual([
      '/login',
      '/login',
      '/orders/41',
      '/users/ann',
    ]);
    expect(journey.skipped.map((s) => s.reason)).toEqual([
      'another origin (fonts.example)',
      'an event stream (it never ends)',
    ]);
    const { s, sent } = session([
      {
        body: '<form method="post" action="/login"><input type="hidden" name="_csrf" value="tok-live-2"><input name="user"></form>',
      },
      { headers: [['location', '/orders/42']] },
    ]);
    await journey.play(s);
    expect(sent[1]!.body!.toString()).toBe('_csrf=tok-live-2&user=ann');
    expect(sent[2]!.path).toBe('/orders/42');
    // "ann" was typed by the user before any answer showed it: it stays as recorded.
    expect(sent[3]!.path).toBe('/users/ann');
    // The recorded Host, no browser cache validators; the jar only has the cookie no answer set.
    const headers = new Map(sent[1]!.headers.map(([n, v]) => [n.toLowerCase(), v]));
    expect(headers.get('host')).toBe('shop.example');
    expect(headers.get('x-forwarded-proto')).toBe('https');
    expect(headers.has('cookie')).toBe(false);
    expect(s.jar.header('/')).toBe('consent=yes; sid=recorded');
    expect(sent[1]!.correlated).toEqual([{ slot: 'form _csrf', from: 0, found: true, changed: true }]);
  });

  it('without recorded bodies, takes a posted field from the same-named field of the last page', async () => {
    const doc = JSON.parse(recording);
    delete doc.log.entries[0].response.content.text;
    const journey = harJourney(readHar(file('bare.har', JSON.stringify(doc))), 'bare.har');
    // The live page's empty (or prefilled) text field is not what the user typed into it.
    const { s, sent } = session([
      {
        body: '<form method="post"><input type="hidden" name="_csrf" value="tok-live-3"><input name="user" value=""></form>',
      },
    ]);
    await journey.play(s);
    expect(sent[1]!.body!.toString()).toBe('_csrf=tok-live-3&user=ann');
    expect(sent[1]!.correlated).toEqual([{ slot: 'form _csrf', from: 0, found: true, changed: true }]);
  });

  it('refuses a recording with nothing to replay at its origin, naming the origin and --origin', () => {
    const path = file('none.har', har([entry('GET', 'https://cdn.example/a.js', { status: 200 })]));
    expect(() => harJourney(readHar(path), path, 'https://shop.example')).toThrow(
      expect.objectContaining({
        code: 'UNPINNED_ERR_CHECK_HAR_INVALID',
        message: expect.stringMatching(
          /no request to https:\/\/shop\.example \(given with --origin\).*\(https:\/\/cdn\.example\), name it with --origin <url>/,
        ),
      }),
    );
  });

  it('refuses a recording saved before anything was recorded, without blaming --origin', () => {
    for (const entries of [[], [entry('GET', 'wss://shop.example/ws', { status: 101 })]]) {
      const path = file('empty.har', har(entries));
      expect(() => harJourney(readHar(path), path)).toThrow(
        expect.objectContaining({
          code: 'UNPINNED_ERR_CHECK_HAR_INVALID',
          message: expect.stringMatching(
            /has no HTTP request to replay \((0 entries|1 entry, none of them HTTP)\).*Preserve log/,
          ),
        }),
      );
      expect(() => harJourney(readHar(path), path)).not.toThrow(/origin|undefined/);
    }
  });

  it("takes the app's origin from the first page, not from a CDN or analytics request before it", () => {
    const page = (url: string, shape: 'chrome' | 'firefox' | 'none') => {
      const e = entry('GET', url, { status: 200, text: '<p>hi</p>' });
      if (shape === 'chrome') Object.assign(e, { _resourceType: 'document' });
      if (shape === 'firefox') e.request.headers.push({ name: 'Sec-Fetch-Dest', value: 'document' });
      return e;
    };
    const cdn = entry('GET', 'https://cdn.example/boot.js', { status: 200, type: 'text/javascript' });
    const beacon = entry('POST', 'https://analytics.example/collect', { status: 204, type: 'text/html' });
    for (const shape of ['chrome', 'firefox', 'none'] as const) {
      const entries = [
        cdn,
        page('https://shop.example/', shape),
        entry('GET', 'https://shop.example/a.css', { status: 200 }),
      ];
      const journey = harJourney(readHar(file('cdn.har', har(entries))), 'cdn.har');
      expect(journey.origin.origin, shape).toBe('https://shop.example');
      expect(journey.steps).toHaveLength(2);
    }
    // Chrome names the first page's URL in pages[0].title: it wins over an earlier page.
    const doc = JSON.parse(
      har([beacon, page('https://ads.example/frame', 'chrome'), page('https://shop.example/', 'chrome')]),
    );
    doc.log.pages = [{ id: 'page_1', title: 'https://shop.example/', startedDateTime: '' }];
    expect(harJourney(readHar(file('pages.har', JSON.stringify(doc))), 'pages.har').origin.origin).toBe(
      'https://shop.example',
    );
    // A typed http:// address the site redirects to https:// is not where the journey happens.
    const typed = entry('GET', 'http://shop.example/', {
      status: 301,
      headers: [['Location', 'https://www.shop.example/']],
    });
    Object.assign(typed, { _resourceType: 'document' });
    const journey = harJourney(
      readHar(file('typed.har', har([typed, page('https://www.shop.example/', 'chrome')]))),
      'typed.har',
    );
    expect(journey.origin.origin).toBe('https://www.shop.example');
  });

  it("skips Playwright's unmarked cache hits and replays its revalidations, which reached the app", () => {
    // Chromium via Playwright: /api/config (max-age=600) comes from the memory cache the second
    // and third time, a 200 with no bytes on the wire; /api/catalog (ETag, no-cache) is
    // revalidated: a 304 on the wire, written as 200 with the cached body and If-None-Match.
    const journey = harJourney(readHar(join(fixtures, 'spa-cache.har')), 'spa-cache.har');
    expect(journey.skipped).toEqual([
      {
        entry: 4,
        request: expect.stringMatching(/GET .*\/api\/config$/),
        reason: "answered from the browser's cache",
      },
      {
        entry: 7,
        request: expect.stringMatching(/GET .*\/api\/config$/),
        reason: "answered from the browser's cache",
      },
    ]);
    expect(journey.steps.map((s) => s.url.pathname)).toEqual([
      '/',
      '/api/catalog',
      '/api/config',
      '/api/catalog',
      '/',
      '/api/catalog',
    ]);
    // An entry that Chrome's DevTools did not mark is not second-guessed.
    const doc = JSON.parse(readFileSync(join(fixtures, 'spa-cache.har'), 'utf8'));
    doc.log.creator.name = 'WebInspector';
    expect(harJourney(readHar(file('devtools.har', JSON.stringify(doc))), 'devtools.har').skipped).toEqual(
      [],
    );
  });

  it('replays a real recording that opened the app on 127.0.0.1 and went on at localhost', () => {
    // Chromium via Playwright, the first 10 entries: the home page typed as 127.0.0.1, the app's
    // links to its configured base URL, http://localhost:3101, then the login.
    const journey = harJourney(readHar(join(fixtures, 'mixed-loopback.har')), 'mixed-loopback.har');
    expect(journey.skipped).toEqual([]);
    expect(journey.steps.map((s) => `${s.method} ${s.url.host}${s.url.pathname}`).slice(3, 10)).toEqual([
      'GET 127.0.0.1:3101/app.js',
      'GET localhost:3101/login',
      'GET localhost:3101/app.css',
      'GET localhost:3101/logo.png',
      'GET localhost:3101/app.js',
      'POST localhost:3101/login',
      'GET localhost:3101/dashboard',
    ]);
  });

  it('replays 127.0.0.1, localhost and [::1] at one port as one app, each with its own Host', async () => {
    const entries = [
      entry('GET', 'http://127.0.0.1:3000/', { status: 200 }),
      entry('GET', 'http://localhost:3000/login', { status: 200 }),
      entry('GET', 'http://[::1]:3000/me', { status: 200 }),
      entry('GET', 'http://localhost:4000/other', { status: 200 }),
      entry('GET', 'http://app.localhost:3000/', { status: 200 }),
    ];
    const journey = harJourney(readHar(file('loopback.har', har(entries))), 'loopback.har');
    expect(journey.steps.map((s) => s.url.host)).toEqual(['127.0.0.1:3000', 'localhost:3000', '[::1]:3000']);
    expect(journey.skipped.map((s) => s.reason)).toEqual([
      'another origin (localhost:4000)',
      'another origin (app.localhost:3000)',
    ]);
    expect(journey.origins).toEqual(['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']);
    const { s, sent } = session([]);
    await journey.play(s);
    expect(sent.map((input) => input.headers.find(([n]) => n === 'host')?.[1])).toEqual([
      '127.0.0.1:3000',
      'localhost:3000',
      '[::1]:3000',
    ]);
    // Named with --origin, the other loopback names still belong to it.
    expect(
      harJourney(readHar(file('loopback.har', har(entries))), 'loopback.har', 'http://localhost:3000').steps,
    ).toHaveLength(3);
  });
});
