/**
 * A Next.js-style route handler (`app/api/cart/route.ts`): each export is a
 * plain `(request: Request) => Promise<Response>`, wrapped so it gets the
 * session and its response leaves only after the session is committed.
 */
import { withSession } from 'unpinned/web';
import { sessions } from './sessions.js';

export const GET = withSession(sessions, async (_request, session) =>
  Response.json({ cart: (await session.get<string[]>('cart')) ?? [] }),
);

export const POST = withSession(sessions, async (request, session) => {
  const { item } = (await request.json()) as { item?: unknown };
  if (typeof item !== 'string' || item.length === 0 || item.length > 40) {
    return Response.json({ error: 'item must be a string of 1 to 40 characters' }, { status: 400 });
  }
  const cart = await session.update<string[]>('cart', (cart = []) => [...cart, item]);
  return Response.json({ cart });
});

export const DELETE = withSession(sessions, async (_request, session) => {
  await session.destroy();
  return new Response(null, { status: 204 });
});
