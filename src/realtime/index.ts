export {
  type ChannelName,
  parseChannel,
  roomChannel,
  sessionChannel,
  userChannel,
} from './channel.js';
export type { PollAnswer } from './long-poll.js';
export {
  createRealtime,
  type LiveConnection,
  Realtime,
  type RealtimeOptions,
} from './realtime.js';
export type { RealtimeRedis } from './redis.js';
export { type EventSink, type Head, serveSse, sseEvent } from './sse.js';
export type { Position, RealtimeEvent, Subscription } from './subscription.js';
export { formatId, type LiveRequest, positionOf } from './transport.js';
