-- KEYS: the client's failures hash, in-flight sorted set and waiting line, then the
-- address's failures hash and in-flight sorted set (one hash tag: one Cluster slot).
-- ARGV: threshold, slot id, base lock ms, max lock ms, failures ttl ms, address threshold,
-- address window ms. Returns 0, or 1 if this failure locks the client, 2 the address.
-- The failure is counted and its lock set in this one script (and the slot freed): no
-- attempt can see the count without its lock. `now` is Redis's clock.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
local function lock(key, failures, threshold)
  local ms = math.min(tonumber(ARGV[3]) * 2 ^ (failures - threshold), tonumber(ARGV[4]))
  redis.call('HSET', key, 'locked_until_ms', string.format('%d', now + ms))
end
local locks = 0
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) then
  lock(KEYS[1], failures, tonumber(ARGV[1]))
  locks = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if tonumber(redis.call('HGET', KEYS[4], 'window_until_ms') or '0') <= now then
  redis.call('HSET', KEYS[4], 'failures', 0, 'window_until_ms', string.format('%d', now + tonumber(ARGV[7])))
end
local address_failures = redis.call('HINCRBY', KEYS[4], 'failures', 1)
if address_failures >= tonumber(ARGV[6]) then
  lock(KEYS[4], address_failures, tonumber(ARGV[6]))
  locks = 2
end
redis.call('PEXPIRE', KEYS[4], math.max(tonumber(ARGV[7]), tonumber(ARGV[4])))
return locks
