-- KEYS: the client's failures hash, in-flight sorted set and waiting line, then the
-- address's failures hash and in-flight sorted set (one hash tag: one Cluster slot).
-- ARGV: threshold, slot id, slot ttl ms, how long a waiter keeps its place without giving
-- up (ms), address threshold.
-- Returns {GRANTED, 0} | {LOCKED, ms still locked} | {BUSY, 0}.
-- Waiters are served in the order they first asked: a slot that comes free goes to the
-- client's longest waiting attempt, never to one that just arrived (a client logging in
-- again and again on its connection would otherwise take every freed slot, and the
-- attempts waiting beside it would be refused after WAIT_FOR_SLOT_SECONDS with the right
-- password). The line is the client's: another client's waiters never hold it up.
-- `now` is Redis's clock.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local locked = math.max(
  tonumber(redis.call('HGET', KEYS[1], 'locked_until_ms') or '0'),
  tonumber(redis.call('HGET', KEYS[4], 'locked_until_ms') or '0'))
if locked > now then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return {1, locked - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[4]))
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local free = math.max(tonumber(ARGV[1]) - failures, 1) - redis.call('ZCARD', KEYS[2])
local address_failures = 0
if tonumber(redis.call('HGET', KEYS[4], 'window_until_ms') or '0') > now then
  address_failures = tonumber(redis.call('HGET', KEYS[4], 'failures') or '0')
end
local address_free = math.max(tonumber(ARGV[5]) - address_failures, 1) - redis.call('ZCARD', KEYS[5])
local place = redis.call('ZRANK', KEYS[3], ARGV[2])
if not place then place = redis.call('ZCARD', KEYS[3]) end
if place >= free or address_free <= 0 then
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  return {2, 0}
end
redis.call('ZREM', KEYS[3], ARGV[2])
local deadline = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], deadline, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[5], deadline, ARGV[2])
redis.call('PEXPIRE', KEYS[5], ARGV[3])
return {0, 0}
