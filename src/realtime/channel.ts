/**
 * Channel names and their Redis keys. Every key of a channel shares one hash
 * tag (`{<channel>}`), so the publish script touches one Cluster slot and its
 * sharded pub/sub channel (SPUBLISH) lives on the same shard as its history.
 */
import { invalidChannel } from './errors.js';

/** `user:<id>`, `session:<id>` or `room:<name>`. */
export type ChannelName = `user:${string}` | `session:${string}` | `room:${string}`;

const pattern = /^(user|session|room):[A-Za-z0-9\-_.:@]{1,192}$/;

export function parseChannel(channel: string): { kind: 'user' | 'session' | 'room'; id: string } {
  if (typeof channel !== 'string' || !pattern.test(channel)) throw invalidChannel(channel);
  const colon = channel.indexOf(':');
  return { kind: channel.slice(0, colon) as 'user' | 'session' | 'room', id: channel.slice(colon + 1) };
}

/** The channel of every session of one user (all tabs and devices). @example userChannel('u-42') */
export const userChannel = (userId: string): ChannelName => `user:${userId}`;
/** The channel of one session (one browser). @example sessionChannel(session.id!) */
export const sessionChannel = (sessionId: string): ChannelName => `session:${sessionId}`;
/** A named room; who may join is the app's `authorizeRoom`. @example roomChannel('lobby') */
export const roomChannel = (name: string): ChannelName => `room:${name}`;

export interface ChannelKeys {
  /** Hash: `e` epoch, `o` last offset. */
  meta: string;
  /** Stream of the channel's history, entry id `<offset>-0`. */
  log: string;
  /** Sharded pub/sub channel the publish script announces on. */
  live: string;
  /** Sorted set of present members, scored by expiry (rooms). */
  presence: string;
}

export function keysOf(prefix: string, channel: string): ChannelKeys {
  const tag = `${prefix}{${channel}}`;
  return { meta: `${tag}:m`, log: `${tag}:h`, live: `${tag}:p`, presence: `${tag}:w` };
}
