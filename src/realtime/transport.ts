/**
 * What every transport does before it streams: read the channel and the
 * position from the request, and ask the session whether it may subscribe.
 * Framework adapters turn their request into a `LiveRequest`.
 */
import { UnpinnedError } from '../session/errors.js';
import type { Realtime } from './realtime.js';
import type { Position, RealtimeEvent } from './subscription.js';

export interface LiveRequest {
  url: URL;
  /** A request header by lower-case name. */
  header(name: string): string | undefined;
  /** Whether the request reached the app over HTTPS (for the session cookie's `__Host-` rules). */
  secure: boolean;
}

/** `<epoch>:<offset>`: the SSE `id:` and `Last-Event-ID` of a position. */
export function formatId(epoch: string, offset: number): string {
  return `${epoch}:${offset}`;
}

/** A position from `Last-Event-ID` (SSE reconnect), else `?epoch=&since=`; `{}` means from now. */
export function positionOf(request: LiveRequest): Position {
  const lastId = request.header('last-event-id') ?? request.url.searchParams.get('lastEventId') ?? undefined;
  if (lastId) {
    const colon = lastId.lastIndexOf(':');
    const offset = Number(lastId.slice(colon + 1));
    if (colon > 0 && Number.isSafeInteger(offset) && offset >= 0)
      return { epoch: lastId.slice(0, colon), offset };
  }
  const since = request.url.searchParams.get('since');
  const epoch = request.url.searchParams.get('epoch') ?? undefined;
  if (since !== null && /^\d{1,15}$/.test(since)) return { epoch, offset: Number(since) };
  return {};
}

/** Who subscribes: the channel, once the session may have it, and the user (for presence in rooms). */
export interface Admitted {
  channel: string;
  userId: string | null;
}

/** The channel asked for, once the session may subscribe to it; throws a typed error otherwise. */
export async function admit(realtime: Realtime, request: LiveRequest): Promise<Admitted> {
  const channel = request.url.searchParams.get('channel') ?? '';
  const sessions = realtime.sessions;
  const session = sessions ? sessions.fromCookie(request.header('cookie'), { secure: request.secure }) : null;
  await realtime.authorize(channel, session);
  return { channel, userId: session ? await session.userId() : null };
}

export function asError(error: unknown): UnpinnedError {
  if (error instanceof UnpinnedError) return error;
  return new UnpinnedError('UNPINNED_ERR_REALTIME_UNAVAILABLE', String((error as Error)?.message ?? error), {
    cause: error,
    statusCode: 503,
  });
}

/**
 * Subscribe on behalf of a connection: events go to `emit`, a failure to
 * subscribe becomes an `error` event, and a connection that ended meanwhile
 * closes the subscription at once. Returns how to close it.
 */
export function attach(
  realtime: Realtime,
  channel: string,
  request: LiveRequest,
  emit: (event: RealtimeEvent) => void,
): () => void {
  let closed = false;
  let subscription: { close(): void } | null = null;
  realtime.subscribe(channel, positionOf(request), emit).then(
    (s) => {
      if (closed) s.close();
      else subscription = s;
    },
    (error: unknown) => {
      const e = asError(error);
      emit({ type: 'error', code: e.code, message: e.message });
    },
  );
  return () => {
    closed = true;
    subscription?.close();
  };
}
