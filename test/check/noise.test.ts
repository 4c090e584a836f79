/** What the check compares, and what it ignores: normalization, facts, learned noise. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstDivergence, learn } from '../../src/check/compare.js';
import type { CookieChange } from '../../src/check/cookie-jar.js';
import { diagnose } from '../../src/check/culprits.js';
import { ancestors, type Facts, factsOf } from '../../src/check/facts.js';
import { scanHtml } from '../../src/check/html.js';
import { compareStep, learnStep } from '../../src/check/noise.js';
import { normalizer } from '../../src/check/normalize.js';
import { label, type Run, type StepRecord } from '../../src/check/replay.js';

const identity = {
  name: 'replica-2',
  pid: 4242,
  port: 40111,
  paths: ['/tmp/unpinned-check-x/rotation-replica-2'],
};
const mask = normalizer(identity);

function facts(body: string, type = 'text/html', status = 200, headers: [string, string][] = []): Facts {
  return factsOf(
    { status, headers: [['content-type', type], ...headers], body: Buffer.from(body) },
    { normalize: mask, origins: ['https://shop.example'], cookies: [] },
  );
}

describe('normalize', () => {
  it("masks the serving replica's name, pid, port and directories", () => {
    expect(
      mask(
        'replica-2 (pid 4242) on :40111 in /tmp/unpinned-check-x/rotation-replica-2/app/uploads; not replica-20',
      ),
    ).toBe('⟨replica⟩ (pid ⟨pid⟩) on :⟨port⟩ in ⟨dir⟩/app/uploads; not replica-20');
  });

  it('masks dates, times, epoch timestamps, UUIDs and random tokens, and leaves ids and words alone', () => {
    const now = Date.now();
    expect(
      mask(`at 2025-03-04T05:06:07.891Z, Tue, 04 Mar 2025 05:06:07 GMT, ${now}, ${Math.floor(now / 1000)}`),
    ).toBe('at ⟨time⟩, ⟨time⟩, ⟨epoch⟩, ⟨epoch⟩');
    expect(
      mask('id 3f0a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b token Zk9uX2Q3bGx4cTJ3ZXJ0eQ order 1234567890'),
    ).toBe('id ⟨uuid⟩ token ⟨token⟩ order 1234567890');
    expect(mask('/orders/17/items/3 internationalization')).toBe('/orders/17/items/3 internationalization');
    // By shape, not by luck: a random base64url token with a single digit is still a token.
    expect(mask('csrf Nejs-_EOso5OJPXyYZAFbBIC')).toBe('csrf ⟨token⟩');
  });

  it('is idempotent on any text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(mask(mask(s))).toBe(mask(s));
      }),
    );
  });
});

describe('html', () => {
  it('reads text, links, forms with their fields and meta tags, and skips scripts and styles', () => {
    const view = scanHtml(`<html><head><meta name="csrf-token" content="t&amp;1"><style>p{color:red}</style>
      <script>var x = "<form>";</script></head><body><p>Logged in as <b>ann</b></p><a href='/orders?page=2'>Orders</a>
      <form method=post action="/cart/add"><input type="hidden" name="sku" value="tea"><textarea name="note">hi &lt;3</textarea><button>Add</button></form>
      <!-- <p>hidden</p> --></body></html>`);
    expect(view.text).toEqual(['Logged in as', 'ann', 'Orders', 'Add']);
    expect(view.links).toEqual(['/orders?page=2']);
    expect(view.meta).toEqual([{ name: 'csrf-token', content: 't&1' }]);
    expect(view.forms).toEqual([
      {
        method: 'POST',
        action: '/cart/add',
        fields: [
          { name: 'sku', type: 'hidden', value: 'tea' },
          { name: 'note', type: 'textarea', value: 'hi <3' },
        ],
      },
    ]);
  });

  it('never throws on any input', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        scanHtml(`${a}<form action="${b}"><input name=${a} value='${b}'>${b}<script>${a}`);
      }),
    );
  });
});

describe('facts', () => {
  it('turns JSON into paths, redirects into path and query, and reads rate-limit headers', () => {
    const json = facts('{"user":{"name":"ann"},"cart":[],"n":2}', 'application/json; charset=utf-8');
    expect(Object.fromEntries(json.scalar)).toEqual({
      status: '200',
      'content-type': 'application/json',
      'json$.user.name': 's:ann',
      'json$.cart': '[]',
      'json$.n': 'n:2',
    });
    const redirect = facts('', 'text/plain', 303, [
      ['location', 'https://shop.example/orders/17?state=x1'],
      ['ratelimit', 'limit=5, remaining=3, reset=60'],
    ]);
    expect(redirect.scalar.get('location.path')).toBe('/orders/17');
    expect(redirect.scalar.get('location.origin')).toBeUndefined();
    expect(redirect.scalar.get('location.query.state')).toBe('x1');
    expect(redirect.scalar.get('header.ratelimit-remaining')).toBe('3');
  });

  it('names the containers a fact sits in', () => {
    expect(ancestors('json$.cart[0].sku')).toEqual(['json$.cart[0]', 'json$.cart', 'json$']);
    expect(ancestors('json$["a.b"].c')).toEqual(['json$["a.b"]', 'json$']);
    expect(ancestors('form[1].csrf#0')).toEqual(['form[1]', 'forms']);
    expect(ancestors('cookie.sid=')).toEqual(['cookie.sid', 'cookie']);
  });
});

describe('noise', () => {
  it('masks what differed between single-replica runs and finds what else differs', () => {
    const a = facts('{"requestId":"a1","user":"ann","cart":{"tea":1}}', 'application/json');
    const b = facts('{"requestId":"b2","user":"ann","cart":{"tea":1}}', 'application/json');
    const model = learnStep(a, [b]);
    expect(
      compareStep(model, facts('{"requestId":"c3","user":"ann","cart":{"tea":1}}', 'application/json')),
    ).toBe(null);
    expect(
      compareStep(model, facts('{"requestId":"c3","user":null,"cart":{"tea":1}}', 'application/json')),
    ).toEqual({
      kind: 'json',
      key: 'json$.user',
      expected: 's:ann',
      got: 'null',
    });
    expect(
      compareStep(model, facts('{"requestId":"c3","user":"ann","cart":{}}', 'application/json')),
    ).toMatchObject({
      kind: 'json',
      key: 'json$.cart.tea',
      got: null,
    });
  });

  it('masks a value that differed before normalization even when it did not after (two random tokens)', () => {
    const meta = (token: string) => facts(`<meta name="csrf-token" content="${token}"><p>hi</p>`);
    const model = learnStep(meta('Ab1Cd2Ef3Gh4Ij5Kl6'), [meta('Zy9Xw8Vu7Ts6Rq5Po4')]);
    expect(compareStep(model, meta('nejsqeosoxojpxyyzafb'))).toBe(null);
  });

  it('tolerates keys under a container whose keys varied (a map keyed by random ids)', () => {
    const a = facts('{"sessions":{"k1":{"at":1}},"user":"ann"}', 'application/json');
    const b = facts('{"sessions":{"k2":{"at":1}},"user":"ann"}', 'application/json');
    const model = learnStep(a, [b]);
    expect(compareStep(model, facts('{"sessions":{"k3":{"at":1}},"user":"ann"}', 'application/json'))).toBe(
      null,
    );
    expect(
      compareStep(model, facts('{"sessions":{"k3":{"at":1}},"user":"ann","extra":1}', 'application/json')),
    ).toMatchObject({ key: 'json$.extra' });
  });

  it('learns varying words of a text node and ignores the order of text', () => {
    const page = (n: number, tips: string[]) =>
      facts(
        `<p>Hello <b>ann</b></p><ul>${tips.map((t) => `<li>${t}</li>`).join('')}</ul><footer>up ${n} ms</footer>`,
      );
    const model = learnStep(page(12, ['a', 'b']), [page(15, ['b', 'a'])]);
    expect(compareStep(model, page(2000, ['b', 'a']))).toBe(null);
    expect(
      compareStep(
        model,
        facts('<p>Hello <b>bea</b></p><ul><li>a</li><li>b</li></ul><footer>up 9 ms</footer>'),
      ),
    ).toEqual({
      kind: 'html',
      key: 'ann',
      expected: 'ann',
      got: 'bea',
    });
  });

  it('puts a status before everything else and page text before forms', () => {
    const a = facts('<p>Logged in as ann</p><form method="post" action="/logout"></form>');
    const model = learnStep(a, [a]);
    const loggedOut = facts('<p>Log in</p><form method="post" action="/login"></form>');
    expect(compareStep(model, loggedOut)).toMatchObject({
      kind: 'html',
      expected: 'Logged in as ann',
      got: 'Log in',
    });
    const redirected = facts('<p>Log in</p>', 'text/html', 302, [['location', '/login']]);
    expect(compareStep(model, redirected)).toMatchObject({ kind: 'status', expected: '200', got: '302' });
  });
});

describe('learn (a run against the reference, step by step)', () => {
  const record = (
    step: number,
    method: string,
    path: string,
    body: string,
    headers: [string, string][] = [],
  ) => {
    const response = {
      status: headers.some(([n]) => n === 'location') ? 303 : 200,
      statusText: 'OK',
      headers: [['content-type', 'text/html'], ...headers] as [string, string][],
      body: Buffer.from(body),
      setCookies: [],
    };
    return {
      step,
      label: label(method, path),
      input: { method, path, headers: [], body: null },
      response,
      machine: 'replica-1',
      restarted: false,
      identity,
      facts: factsOf(response, { normalize: mask, origins: [], cookies: [] }),
      cookiesSent: [],
      cookieChanges: [],
    } as unknown as StepRecord;
  };
  const run = (...records: StepRecord[]): Run => ({
    plan: { name: 'run', machines: ['replica-1'], route: () => 'replica-1' },
    records,
    aborted: null,
    ms: 0,
  });
  // POST /notes redirects to the new note's id, which the next step opens.
  const notes = (id: string, text = 'buy milk') =>
    run(
      record(0, 'POST', '/notes', '', [['location', `/notes/${id}`]]),
      record(1, 'GET', `/notes/${id}`, `<h1>Note</h1><p>${text}</p>`),
    );

  it('takes an id the app made at an earlier step for the same request, in every run', () => {
    const reference = notes('Xy3k9aBc');
    const models = learn(reference, [notes('Q2mn8pLd')]);
    expect(firstDivergence(models, reference, notes('Hb7tR2wq'))).toBe(null);
    // Random by its shape, even where the single-replica runs happened to agree.
    const uuid = notes('1ae22bdf-5a1c-4c8e-9d0e-3f2b1c0a9e77');
    expect(firstDivergence(learn(uuid, [uuid]), uuid, notes('e54d83be-0b7a-4f51-8a34-4f7d7c1f0c2e'))).toBe(
      null,
    );
    // What the note says is still compared.
    expect(firstDivergence(models, reference, notes('Hb7tR2wq', 'call Bob'))).toMatchObject({
      step: 1,
      difference: { kind: 'html', expected: 'buy milk' },
    });
  });

  it('still tells another request from the same one', () => {
    const reference = notes('Xy3k9aBc');
    const models = learn(reference, [notes('Q2mn8pLd')]);
    const other = run(
      record(0, 'POST', '/notes', '', [['location', '/notes/Hb7tR2wq']]),
      record(1, 'GET', '/users/Hb7tR2wq', '<h1>Note</h1><p>buy milk</p>'),
    );
    expect(firstDivergence(models, reference, other)).toMatchObject({
      step: 1,
      difference: { kind: 'request' },
    });
    // A single-replica run that went elsewhere (a script that branched) is no lesson on ids.
    const branched = run(
      record(0, 'POST', '/notes', '', [['location', '/notes/Xy3k9aBc']]),
      record(1, 'GET', '/login', '<h1>Log in</h1>'),
    );
    const strict = learn(reference, [branched]);
    expect(strict[1]!.segments.size).toBe(0);
  });

  it("pools what varied between runs over a route's steps, never what differs between its steps", () => {
    const page = (quote: string, cart: string) => `<p>${quote}</p><p>${cart}</p>`;
    const shop = (q: string[], carts = ['cart empty', 'cart empty', '1 item']) =>
      run(
        record(0, 'GET', '/cart', page(q[0]!, carts[0]!)),
        record(1, 'GET', '/cart', page(q[1]!, carts[1]!)),
        record(2, 'GET', '/cart', page(q[2]!, carts[2]!)),
      );
    // At step 1 both single-replica runs drew the same quote; at the others they did not.
    const reference = shop(['Tea is hope', 'Tea is hope', 'Drink it hot']);
    const models = learn(reference, [shop(['Drink it hot', 'Tea is hope', 'Tea is hope'])]);
    expect(firstDivergence(models, reference, shop(['Tea is hope', 'Drink it hot', 'Tea is hope']))).toBe(
      null,
    );
    // "cart empty" is what step 1 shows in every run: at step 2, where the cart had an item, it is state.
    expect(
      firstDivergence(
        models,
        reference,
        shop(['Tea is hope', 'Tea is hope', 'Drink it hot'], ['cart empty', 'cart empty', 'cart empty']),
      ),
    ).toMatchObject({ step: 2, difference: { expected: '1 item', got: 'cart empty' } });
  });

  it('takes a text that varied anywhere for a random pick everywhere, also on a page opened once', () => {
    const page = (path: string, quote: string, step: number) =>
      record(step, 'GET', path, `<h1>${path}</h1><blockquote>${quote}</blockquote>`);
    const shop = (q: string[]) =>
      run(page('/', q[0]!, 0), page('/tea/sencha', q[1]!, 1), page('/cart', q[2]!, 2));
    const reference = shop(['Tea is hope', 'Drink it hot', 'Tea is hope']);
    const models = learn(reference, [shop(['Drink it hot', 'Drink it hot', 'Tea is hope'])]);
    // The one /tea/sencha drew alike in both runs, and another quote in this one.
    expect(firstDivergence(models, reference, shop(['Tea is hope', 'A new quote here', 'Tea is hope']))).toBe(
      null,
    );
    // The page's own text is still compared.
    const soldOut = record(
      1,
      'GET',
      '/tea/sencha',
      '<h1>/tea/sencha</h1><p>Sold out</p><blockquote>Tea is hope</blockquote>',
    );
    expect(firstDivergence(models, reference, run(page('/', 'Tea is hope', 0), soldOut))).toMatchObject({
      step: 1,
      difference: { got: 'Sold out' },
    });
  });

  it('masks a time counted down, which a slower run reads a little lower', () => {
    expect(mask('Rate limit exceeded, retry in 59 seconds')).toBe(
      mask('Rate limit exceeded, retry in 1 minute'),
    );
    expect(mask('up 12 ms, 3s')).toBe('up ⟨duration⟩, ⟨duration⟩');
    expect(mask('2 items in your cart')).toBe('2 items in your cart');
  });

  it("reads express-rate-limit's draft-8 header, with a space after each ';'", () => {
    const limited = facts('', 'text/plain', 200, [['ratelimit', '"5-in-15min"; r=4; t=900']]);
    expect(limited.scalar.get('header.ratelimit-remaining')).toBe('4');
  });
});

describe('diagnose (which culprit)', () => {
  // Step 2 carried cookie `name` that replica-1 set at step 1, and replica-2 set it anew.
  const reissued = (name: string) => {
    const record = (machine: string, sent: boolean, changes: CookieChange[]) =>
      ({
        step: 1,
        label: 'GET /',
        input: {
          method: 'GET',
          path: '/',
          headers: sent ? [['cookie', `${name}=aaaa1111bbbb2222`]] : [],
          body: null,
        },
        response: { status: 200, statusText: 'OK', headers: [], body: Buffer.alloc(0), setCookies: [] },
        machine,
        restarted: false,
        identity,
        facts: { scalar: new Map(), raw: new Map(), text: [] },
        cookiesSent: sent ? [{ name, setAt: 0, setOn: 'replica-1' }] : [],
        cookieChanges: changes,
      }) as unknown as StepRecord;
    return diagnose({
      reader: record('replica-2', true, [{ name, action: 'set', value: 'cccc3333dddd4444' }]),
      reference: record('replica-1', true, []),
      difference: { kind: 'cookie', key: `cookie.${name}`, expected: null, got: 'set' },
      probes: { readerRestartedMatches: null, oneReplicaRestartedMatches: false },
    });
  };

  it('a session cookie set anew is a session the replica did not know', () => {
    expect(reissued('sid').id).toBe('session-memory');
  });

  it('another cookie set anew to a value of its own is state of the process, not a session', () => {
    const diagnosis = reissued('boot');
    expect(diagnosis.id).toBe('module-state');
    expect(diagnosis.evidence.join('\n')).toMatch(/set cookie boot anew/);
  });
});

describe('diagnose (signed sessions in cookies)', () => {
  const flask = '.eJwljkEKwzAMBP_ic04.aQnx1g.Kx2h4uS0ZVt7mJVw8m3b8mXhXqQ';
  const mojo =
    'eyJleHBpcmVzIjoxNzY1MTYwMDAwfQ----3f1c9a0b7e2d4c6f8a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b';
  const record = (step: number, machine: string, name: string, value: string, status = 200) =>
    ({
      step,
      label: 'GET /',
      input: { method: 'GET', path: '/', headers: [['cookie', `${name}=${value}`]], body: null },
      response: { status, statusText: '', headers: [], body: Buffer.alloc(0), setCookies: [] },
      machine,
      restarted: false,
      identity,
      facts: { scalar: new Map(), raw: new Map(), text: [] },
      cookiesSent: [{ name, setAt: 0, setOn: 'replica-1' }],
      cookieChanges: [],
    }) as unknown as StepRecord;
  const diagnoseAt = (name: string, value: string, earlier: StepRecord[] = []) =>
    diagnose({
      reader: record(2, 'replica-3', name, value, 302),
      reference: record(2, 'replica-1', name, value),
      difference: { kind: 'status', key: 'status', expected: '200', got: '302' },
      probes: { readerRestartedMatches: null, oneReplicaRestartedMatches: false },
      earlier,
    });

  it("names the signing key for Flask's and Mojolicious' cookies, whatever the cookie is called", () => {
    for (const [name, value] of [
      ['session', flask],
      ['greeter', flask],
      ['mojolicious', mojo],
    ] as const) {
      const diagnosis = diagnoseAt(name, value);
      expect(diagnosis.id, name).toBe('session-memory');
      expect(diagnosis.culprit, name).toMatch(/^a signing key made by each process at startup/);
    }
  });

  it('does not, when an earlier step took the same cookie to another replica and was answered alike', () => {
    const diagnosis = diagnoseAt('greeter', flask, [record(1, 'replica-2', 'greeter', flask)]);
    expect(diagnosis.id).toBe('module-state');
    // Also for a cookie whose name says session: what differs is not its key.
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYW5uIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
    const named = diagnoseAt('token', jwt, [record(1, 'replica-2', 'token', jwt)]);
    expect(named.id).toBe('session-memory');
    expect(named.culprit).toBeUndefined();
    expect(diagnoseAt('token', jwt).culprit).toMatch(/^a signing key made by each process at startup/);
  });
});
