import { BUCKET_MS } from './lease-book.js';

/**
 * The lease book (lease-book.ts) in Lua, run by Redis: each command is one
 * atomic step over one volume's four keys, on Redis' clock (TIME), so that
 * no replica's clock decides when a lease expires.
 *
 * KEYS: leases (hash id → "owner\tgranted\tinodes\tconsumed"), expiries
 * (sorted set id → ms), totals (hash: granted, inodes, consumed, and
 * "c\t<owner>" per owner), written (hash "b|i\t<owner>\t<bucket>" → amount)
 * and its index by bucket (sorted set), so that an ask reads only the
 * buckets after its snapshot.
 * A room or `since` of -1 means unbounded. Every command answers the
 * server's time and the volume's held bytes and inodes over all owners
 * last, so callers keep their clock offset and figures current.
 */
const common = `
local L, E, T, W, WI = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local BUCKET = ${BUCKET_MS}
local function int(x) return string.format('%d', x) end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(v) return tonumber(v or '0') or 0 end
local function parse(v)
  local owner, granted, inodes, consumed = string.match(v, '^(.-)\\t(%d+)\\t(%d+)\\t(%d+)$')
  return owner, tonumber(granted), tonumber(inodes), tonumber(consumed)
end
local function encode(owner, granted, inodes, consumed)
  return owner .. '\\t' .. int(granted) .. '\\t' .. int(inodes) .. '\\t' .. int(consumed)
end
local function addConsumed(owner, delta)
  if delta == 0 then return end
  redis.call('HINCRBY', T, 'consumed', int(delta))
  if redis.call('HINCRBY', T, 'c\\t' .. owner, int(delta)) <= 0 then redis.call('HDEL', T, 'c\\t' .. owner) end
end
local function note(kind, owner, bucket, amount)
  if amount <= 0 then return end
  local field = kind .. '\\t' .. owner .. '\\t' .. bucket
  redis.call('HINCRBY', W, field, int(amount))
  redis.call('ZADD', WI, bucket, field)
end
local function record(owner, bytes, inodes, now)
  local bucket = int(math.floor(now / BUCKET))
  note('b', owner, bucket, bytes)
  note('i', owner, bucket, inodes)
end
local function hold(id, owner, granted, inodes, consumed)
  redis.call('HSET', L, id, encode(owner, granted, inodes, consumed))
  redis.call('HINCRBY', T, 'granted', int(granted))
  redis.call('HINCRBY', T, 'inodes', int(inodes))
  addConsumed(owner, consumed)
end
local function finish(id, v)
  local owner, granted, inodes, consumed = parse(v)
  redis.call('HDEL', L, id)
  redis.call('ZREM', E, id)
  redis.call('HINCRBY', T, 'granted', int(-granted))
  redis.call('HINCRBY', T, 'inodes', int(-inodes))
  addConsumed(owner, -consumed)
  return owner, granted, inodes, consumed
end
-- A lease whose owner stopped renewing it: what it streamed counts as written, its inodes as taken.
local function expire(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', E, '-inf', now)) do
    local v = redis.call('HGET', L, id)
    if v then
      local owner, _, inodes, consumed = finish(id, v)
      record(owner, consumed, inodes, now)
    else
      redis.call('ZREM', E, id)
    end
  end
end
-- Lua's unpack takes a few thousand values at most.
local function batches(list, each)
  for first = 1, #list, 1000 do
    local part = {}
    for i = first, math.min(first + 999, #list) do part[#part + 1] = list[i] end
    each(part)
  end
end
-- What other owners wrote in the buckets that end after \`since\`; records older than \`keep\` are dropped.
local function figures(owner, since, now, keep)
  local wb, wi = 0, 0
  local oldest = int(math.floor((now - keep) / BUCKET) - 1)
  local old = redis.call('ZRANGEBYSCORE', WI, '-inf', oldest)
  if #old > 0 then
    batches(old, function(part) redis.call('HDEL', W, unpack(part)) end)
    redis.call('ZREMRANGEBYSCORE', WI, '-inf', oldest)
  end
  if since >= 0 then
    local fields = redis.call('ZRANGEBYSCORE', WI, int(math.floor(since / BUCKET)), '+inf')
    batches(fields, function(part)
      local amounts = redis.call('HMGET', W, unpack(part))
      for i, field in ipairs(part) do
        local kind, o = string.match(field, '^(%a)\\t(.-)\\t')
        if o ~= owner then
          if kind == 'b' then wb = wb + num(amounts[i]) else wi = wi + num(amounts[i]) end
        end
      end
    end)
  end
  local held = num(redis.call('HGET', T, 'granted')) - num(redis.call('HGET', T, 'c\\t' .. owner))
  return held, num(redis.call('HGET', T, 'inodes')), wb, wi
end
local function cluster()
  return num(redis.call('HGET', T, 'granted')) - num(redis.call('HGET', T, 'consumed')), num(redis.call('HGET', T, 'inodes'))
end
local function fits(room, amount) return room < 0 or amount <= room end
`;

/** ARGV: owner, id, bytes, inodes, roomBytes, roomInodes, since, leaseMs, keepMs → {granted 0|1, held, heldInodes, writtenBytes, writtenInodes, now, clusterBytes, clusterInodes}. */
/** Keys per volume. */
export const VOLUME_KEYS = 5;

export const reserveScript = `${common}
local owner, id = ARGV[1], ARGV[2]
local bytes, inodes, roomB, roomI, since = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local now = clock()
expire(now)
local held, heldI, wb, wi = figures(owner, since, now, tonumber(ARGV[9]))
local granted = 0
if fits(roomB, held + wb + bytes) and (inodes == 0 or fits(roomI, heldI + wi + inodes)) then
  hold(id, owner, bytes, inodes, 0)
  redis.call('ZADD', E, int(now + tonumber(ARGV[8])), id)
  held, heldI, granted = held + bytes, heldI + inodes, 1
end
local cb, ci = cluster()
return {granted, held, heldI, wb, wi, now, cb, ci}
`;

/**
 * ARGV: owner, id, granted, inodes, consumed (the lease as its owner knows
 * it: re-created when Redis lost it), bytes, roomBytes, since, leaseMs,
 * keepMs → {grown 0|1, held, heldInodes, writtenBytes, writtenInodes, now, clusterBytes, clusterInodes}.
 */
export const growScript = `${common}
local owner, id = ARGV[1], ARGV[2]
local granted, inodes, consumed = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local bytes, roomB, since = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now = clock()
expire(now)
local v = redis.call('HGET', L, id)
if v then
  local _, g, _, c = parse(v)
  granted = g
  if consumed > c then
    redis.call('HSET', L, id, encode(owner, g, inodes, consumed))
    addConsumed(owner, consumed - c)
  end
else
  hold(id, owner, granted, inodes, consumed)
end
redis.call('ZADD', E, int(now + tonumber(ARGV[9])), id)
local held, heldI, wb, wi = figures(owner, since, now, tonumber(ARGV[10]))
local grown = 0
if fits(roomB, held + wb + bytes) then
  local _, g, i, c = parse(redis.call('HGET', L, id))
  redis.call('HSET', L, id, encode(owner, g + bytes, i, c))
  redis.call('HINCRBY', T, 'granted', int(bytes))
  held, grown = held + bytes, 1
end
local cb, ci = cluster()
return {grown, held, heldI, wb, wi, now, cb, ci}
`;

/**
 * ARGV: owner, leaseMs, then per lease id, granted, inodes, consumed: each
 * lease's expiry moves on (re-created where Redis lost it, e.g. after a
 * restart or while the owner judged alone) → {now, clusterBytes, clusterInodes}.
 */
export const renewScript = `${common}
local owner, leaseMs = ARGV[1], tonumber(ARGV[2])
local now = clock()
expire(now)
for i = 3, #ARGV, 4 do
  local id, granted, inodes, consumed = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local v = redis.call('HGET', L, id)
  if v then
    local _, g, _, c = parse(v)
    if granted > g then
      redis.call('HINCRBY', T, 'granted', int(granted - g))
      g = granted
    end
    if consumed > c then addConsumed(owner, consumed - c) else consumed = c end
    redis.call('HSET', L, id, encode(owner, g, inodes, consumed))
  else
    hold(id, owner, granted, inodes, consumed)
  end
  redis.call('ZADD', E, int(now + leaseMs), id)
end
local cb, ci = cluster()
return {now, cb, ci}
`;

/** ARGV: owner, id, writtenBytes, writtenInodes → {now, clusterBytes, clusterInodes}. What was written counts even when the lease had already expired. */
export const releaseScript = `${common}
local owner, id = ARGV[1], ARGV[2]
local now = clock()
expire(now)
local v = redis.call('HGET', L, id)
if v then finish(id, v) end
record(owner, tonumber(ARGV[3]), tonumber(ARGV[4]), now)
local cb, ci = cluster()
return {now, cb, ci}
`;
