/**
 * Stateless long-poll: `GET …?channel=<c>&epoch=<e>&since=<offset>` answers
 * with the messages after `since` as soon as there is one (or after `wait` ms
 * with none). Nothing is kept between polls, so each poll can reach any server.
 * Without `since` it answers at once with the current position.
 */

import type { Realtime } from './realtime.js';
import type { Head } from './sse.js';
import type { RealtimeEvent } from './subscription.js';
import { admit, asError, type LiveRequest, positionOf } from './transport.js';

export interface PollAnswer {
  epoch: string;
  /** The offset to poll from next (`since`). */
  offset: number;
  /** True when `since` was no longer covered: reload, then continue from `offset`. */
  reset: boolean;
  messages: { offset: number; data: unknown }[];
}

const MAX_WAIT_MS = 60_000;

export async function serveLongPoll(
  realtime: Realtime,
  request: LiveRequest,
  onAbort: (listener: () => void) => void,
): Promise<Head> {
  let channel: string;
  try {
    ({ channel } = await admit(realtime, request));
  } catch (error) {
    return errorHead(error);
  }
  const from = positionOf(request);
  const waitMs = Math.min(Number(request.url.searchParams.get('wait') ?? 25_000) || 0, MAX_WAIT_MS);
  const answer: PollAnswer = { epoch: '', offset: 0, reset: false, messages: [] };
  let failure: RealtimeEvent | null = null;
  let wake = () => {};
  const woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const emit = (event: RealtimeEvent) => {
    if (event.type === 'error') failure = event;
    else {
      answer.epoch = event.epoch;
      answer.offset = event.offset;
      if (event.type === 'reset') answer.reset = true;
      if (event.type === 'message')
        answer.messages.push({ offset: event.offset, data: JSON.parse(event.data) });
    }
    if (event.type !== 'ready') wake();
  };
  let subscription: { close(): void };
  try {
    subscription = await realtime.subscribe(channel, from, emit);
  } catch (error) {
    return errorHead(error);
  }
  const untrack = realtime.track({ channel, transport: 'long-poll', shutdown: () => wake() });
  onAbort(() => wake());
  if (from.offset !== undefined && answer.messages.length === 0 && !answer.reset && !failure) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      woken,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }
  subscription.close();
  untrack();
  if (failure) return errorHead(failure);
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(answer),
  };
}

function errorHead(error: unknown): Head {
  const e = 'type' in (error as object) ? (error as { code: string; message: string }) : asError(error);
  const status = 'statusCode' in e ? (e as { statusCode: number }).statusCode : 503;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (status === 503) headers['retry-after'] = '1';
  return { status, headers, body: JSON.stringify({ code: e.code, error: e.message }) };
}
