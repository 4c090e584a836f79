/**
 * The two Lua scripts of a channel. Each touches only the channel's keys (one
 * hash tag, one Cluster slot), so each is atomic on its own.
 *
 * publish: the offset comes from a counter in the channel's hash and is the
 * stream entry id (`<offset>-0`), so offsets are contiguous and the append, the
 * offset and the fan-out (SPUBLISH from inside the script) are one step: nothing
 * is announced that is not in the history, and nothing is in the history that
 * was not announced. A fresh epoch is made when the hash is missing (first
 * publish, or the channel expired or was evicted): offsets restart at 1 under
 * an epoch no client has seen, so no client mistakes new offsets for old ones.
 *
 * position: the epoch, the last offset, the first offset still in the history
 * and up to `count` entries after `after`, read together so that they agree.
 */
import { createHash } from 'node:crypto';

export interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

// KEYS: meta, log. ARGV: epoch candidate, ttl ms.
const ensureEpoch = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
`;

/** KEYS: meta, log. ARGV: epoch candidate, ttl ms, data, max length, max age ms, live channel. */
export const publishScript = script(`${ensureEpoch}
local offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], offset .. '-0', 'd', ARGV[3], 't', now)
-- Age bound: entries carry their time; trim the old head by MINID (ids are offsets, not times).
local oldest = now - tonumber(ARGV[5])
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if head[1] and tonumber(head[1][2][4]) < oldest then
  local batch = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 256)
  local cut = nil
  for _, entry in ipairs(batch) do
    if tonumber(entry[2][4]) >= oldest then cut = entry[1] break end
  end
  if not cut then cut = (tonumber(string.match(batch[#batch][1], '^(%d+)')) + 1) .. '-0' end
  redis.call('XTRIM', KEYS[2], 'MINID', cut)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SPUBLISH', ARGV[6], epoch .. '|' .. offset .. '|' .. ARGV[3])
return {epoch, offset}
`);

/** KEYS: meta, log. ARGV: epoch candidate, ttl ms, after (-1: none), count. */
export const positionScript = script(`${ensureEpoch}
local last = tonumber(redis.call('HGET', KEYS[1], 'o'))
local first = last + 1
local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if head[1] then first = tonumber(string.match(head[1][1], '^(%d+)')) end
local after = tonumber(ARGV[3])
local entries = {}
if after >= 0 and after < last and after + 1 >= first then
  entries = redis.call('XRANGE', KEYS[2], (after + 1) .. '-0', '+', 'COUNT', ARGV[4])
end
return {epoch, last, first, entries}
`);

/** KEYS: presence. ARGV: now ms, member, expiry ms (0: leave). Returns the members present. */
export const presenceScript = script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if ARGV[3] == '0' then
  redis.call('ZREM', KEYS[1], ARGV[2])
elseif ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) - tonumber(ARGV[1]))
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);
