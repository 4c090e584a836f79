/**
 * Lua scripts of the Redis store. Each touches exactly one key, so each is
 * atomic on its own and valid on Redis Cluster. They run by EVALSHA; after a
 * NOSCRIPT (a restarted or failed-over server) the store falls back to EVAL.
 *
 * Hash layout of a session: one field per top-level session key (JSON text),
 * plus metadata fields whose names start with "$" (a prefix session keys may not
 * use): $m = "created:touched:absoluteExpiry" (epoch ms; one field rather than
 * three, because every read pays to decode each field) and $u, the user id.
 */
import { createHash } from 'node:crypto';

export interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * The commit. ARGV: mode ('c' create | 'u' update), pexpireat, touchedAt ('' =
 * keep), user op ('0' keep | '1' bind | '2' unbind), user id, createdAt,
 * absoluteExpiresAt, #expects, #sets, #deletes, then expect pairs (field,
 * '0' absent | '1'..json), set pairs (field, json), delete fields.
 * Returns 1 ok, 0 gone, -1 exists, {2, field[, current]} conflict, {1, oldUser}
 * when the user binding changed.
 *
 * Logout sticks: an update of a key that no longer exists writes nothing, so a
 * slow request can never re-create a destroyed session.
 */
export const WRITE = script(`
local key = KEYS[1]
-- A session retired by regenerate (kept readable for a grace window) takes no
-- more writes: they would outlive the window or escape "log out everywhere".
local exists = redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, '$g') == 0
if ARGV[1] == 'c' then
  if exists then return -1 end
elseif not exists then
  return 0
end
local i = 11
for _ = 1, tonumber(ARGV[8]) do
  local cur = redis.call('HGET', key, ARGV[i])
  local want = ARGV[i + 1]
  if cur == false then
    if want ~= '0' then return {2, ARGV[i]} end
  elseif string.sub(want, 2) ~= cur or string.sub(want, 1, 1) ~= '1' then
    return {2, ARGV[i], cur}
  end
  i = i + 2
end
local fields = {}
if ARGV[1] == 'c' then
  local touched = ARGV[3] ~= '' and ARGV[3] or ARGV[6]
  fields = {'$m', ARGV[6] .. ':' .. touched .. ':' .. ARGV[7]}
elseif ARGV[3] ~= '' then
  local created, absolute = string.match(redis.call('HGET', key, '$m') or '', '^(%d+):%d+:(%d+)$')
  if created then
    fields = {'$m', created .. ':' .. ARGV[3] .. ':' .. absolute}
  end
end
local old = false
if ARGV[4] ~= '0' then old = redis.call('HGET', key, '$u') end
if ARGV[4] == '1' then
  fields[#fields + 1] = '$u'
  fields[#fields + 1] = ARGV[5]
elseif ARGV[4] == '2' then
  redis.call('HDEL', key, '$u')
end
for _ = 1, tonumber(ARGV[9]) do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  i = i + 2
  -- unpack() has a stack limit: flush big writes in chunks
  if #fields >= 200 then
    redis.call('HSET', key, unpack(fields))
    fields = {}
  end
end
if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
local dels = {}
for _ = 1, tonumber(ARGV[10]) do
  dels[#dels + 1] = ARGV[i]
  i = i + 1
  if #dels >= 200 then
    redis.call('HDEL', key, unpack(dels))
    dels = {}
  end
end
if #dels > 0 then redis.call('HDEL', key, unpack(dels)) end
redis.call('PEXPIREAT', key, ARGV[2])
if ARGV[4] ~= '0' then return {1, old or ''} end
return 1
`);

/** Add ARGV[2] to numeric field ARGV[1]. Returns {1, value}, {0} gone, {-1} not a number. */
export const INCREMENT = script(`
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, '$g') == 1 then return {0} end
local cur = redis.call('HGET', key, ARGV[1])
local n = 0
if cur then
  -- Unreadable text counts as absent (as a read sees it); readable JSON that
  -- is not a number is the caller's mistake.
  local ok, value = pcall(cjson.decode, cur)
  if ok then
    if type(value) ~= 'number' then return {-1} end
    n = value
  end
end
n = n + tonumber(ARGV[2])
if n ~= n or n == math.huge or n == -math.huge then return {-1} end
-- %.17g round-trips a double exactly, as JavaScript's JSON does
local text = string.format('%.17g', n)
if math.floor(n) == n and math.abs(n) < 1e15 then text = string.format('%d', n) end
redis.call('HSET', key, ARGV[1], text)
return {1, text}
`);

/** Refresh the idle window of an existing session. ARGV: touchedAt, pexpireat. */
export const TOUCH = script(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], '$g') == 1 then return 0 end
local created, absolute = string.match(redis.call('HGET', KEYS[1], '$m') or '', '^(%d+):%d+:(%d+)$')
if created then
  redis.call('HSET', KEYS[1], '$m', created .. ':' .. ARGV[1] .. ':' .. absolute)
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`);

/**
 * Destroy; ARGV[1] > 0 keeps it readable that many ms (regenerate grace) but
 * unbinds it from its user at once. Returns {existed, userId or ''}.
 */
export const DESTROY = script(`
local key = KEYS[1]
local user = redis.call('HGET', key, '$u') or ''
local grace = tonumber(ARGV[1])
if grace > 0 then
  if redis.call('EXISTS', key) == 0 then return {0, ''} end
  redis.call('HDEL', key, '$u')
  redis.call('HSET', key, '$g', '1')
  redis.call('PEXPIRE', key, grace, 'LT')
  return {1, user}
end
return {redis.call('DEL', key), user}
`);

/** Destroy only if bound to user ARGV[1] (a user cannot revoke someone else's session). */
export const DESTROY_FOR_USER = script(`
if redis.call('HGET', KEYS[1], '$u') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`);

/**
 * Per-user index: a sorted set of session ids scored by absolute expiry. Adds
 * ARGV[2] with score ARGV[1], prunes entries whose expiry passed (ARGV[3] = now)
 * and keeps the index alive as long as its longest-lived session. No keyspace
 * notifications needed (managed Redis often disables them).
 */
export const INDEX_ADD = script(`
local key = KEYS[1]
redis.call('ZADD', key, ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', key, last[2]) end
return 1
`);

export const scripts = { WRITE, INCREMENT, TOUCH, DESTROY, DESTROY_FOR_USER, INDEX_ADD };
