/** Server-rendered HTML of the shop. Everything user-supplied is escaped. */
import { type Cart, cartTotalCents, catalog } from './catalog.js';

export interface View {
  server: string;
  user: string | null;
  cart: Cart;
  orders: number;
  notice?: string;
  /** The page subscribes to its session's live channel (when the shop runs with realtime). */
  live?: boolean;
  /** Public id of the session (a hash, not the token): names its live channel. */
  session?: string | null;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const money = (cents: number) => `$${(cents / 100).toFixed(2)}`;

function layout(view: View, title: string, body: string): string {
  const account = view.user
    ? `Logged in as <b>${escapeHtml(view.user)}</b> · <a href="/profile">profile</a>
       <form method="post" action="/logout" class="inline"><button>Log out</button></form>`
    : '<a href="/login">Log in</a>';
  const count = Object.values(view.cart).reduce((a, b) => a + b, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · unpinned shop</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
header,footer{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap;align-items:center}
footer{margin-top:3rem;color:#666;font-size:.9rem}.inline{display:inline}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem;border-bottom:1px solid #ddd;text-align:left}
.notice{background:#eef7ee;padding:.5rem 1rem;border-radius:.3rem}.server{font-weight:bold;color:#0a5}
</style></head><body data-session="${escapeHtml(view.session ?? '')}">
<header><a href="/"><b>unpinned shop</b></a><span>${account} · <a href="/cart">cart (<span data-cart-count>${count}</span>)</a> · orders <span data-orders>${view.orders}</span></span></header>
${view.notice ? `<p class="notice">${escapeHtml(view.notice)}</p>` : ''}
<main>${body}</main>
<footer><span>Served by <span class="server" data-server>${escapeHtml(view.server)}</span></span>
<span>Sessions live in the shared store: any server can answer.</span></footer>
${view.live && view.session ? liveScript() : ''}
</body></html>`;
}

export function homePage(view: View): string {
  const rows = catalog
    .map(
      (p) => `<tr><td>${escapeHtml(p.name)}</td><td>${money(p.priceCents)}</td><td>
<form method="post" action="/cart/add"><input type="hidden" name="sku" value="${p.sku}"><button>Add to cart</button></form></td></tr>`,
    )
    .join('');
  return layout(
    view,
    'Shop',
    `<h1>Tea things</h1><table><tr><th>Product</th><th>Price</th><th></th></tr>${rows}</table>`,
  );
}

export function cartPage(view: View): string {
  const entries = Object.entries(view.cart);
  const rows = entries
    .map(([sku, qty]) => {
      const product = catalog.find((p) => p.sku === sku);
      return `<tr><td>${escapeHtml(product?.name ?? sku)}</td><td>${qty}</td><td>
<form method="post" action="/cart/remove"><input type="hidden" name="sku" value="${escapeHtml(sku)}"><button>Remove one</button></form></td></tr>`;
    })
    .join('');
  const body = entries.length
    ? `<table><tr><th>Item</th><th>Qty</th><th></th></tr>${rows}</table>
<p>Total: <b>${money(cartTotalCents(view.cart))}</b></p>
<form method="post" action="/checkout"><button>Check out</button></form>`
    : '<p>Your cart is empty.</p>';
  return layout(view, 'Cart', `<h1>Cart</h1>${body}`);
}

export function loginPage(view: View): string {
  return layout(
    view,
    'Log in',
    `<h1>Log in</h1><form method="post" action="/login">
<label>Name <input name="user" autocomplete="username" required maxlength="40"></label> <button>Log in</button></form>
<p>Any name works: this is a demo.</p>`,
  );
}

export function profilePage(
  view: View,
  sessions: { id: string; touchedAt: number }[],
  current: string | null,
): string {
  const rows = sessions
    .map(
      (s) => `<tr><td><code>${s.id.slice(0, 12)}</code>${s.id === current ? ' (this one)' : ''}</td>
<td>${new Date(s.touchedAt).toISOString()}</td></tr>`,
    )
    .join('');
  return layout(
    view,
    'Profile',
    `<h1>${escapeHtml(view.user ?? '')}</h1><p>Orders placed: ${view.orders}</p>
<h2>Your sessions</h2><table><tr><th>Session</th><th>Last active</th></tr>${rows}</table>
<form method="post" action="/logout-everywhere"><button>Log out everywhere else</button></form>`,
  );
}

/**
 * Every open tab follows its cart and orders live (unpinned/realtime over SSE, through any
 * balancer): the server publishes to the session's channel on each change. The channel is the
 * session's, not the user's: in this shop the cart belongs to the session (a device).
 */
function liveScript(): string {
  return `<script>
(() => {
  const es = new EventSource('/live?channel=session:' + document.body.dataset.session);
  es.onmessage = (e) => {
    const s = JSON.parse(e.data);
    document.querySelector('[data-cart-count]').textContent = Object.values(s.cart).reduce((a, b) => a + b, 0);
    document.querySelector('[data-orders]').textContent = s.orders;
  };
})();
</script>`;
}
