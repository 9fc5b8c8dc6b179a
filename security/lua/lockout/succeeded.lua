-- KEYS: the client's failures hash, in-flight sorted set and waiting line, then the
-- address's failures hash and in-flight sorted set. ARGV: slot id.
-- Returns the client's failures before this success (0 if none).
-- The client's failures and lock go; the address's count stays (it is everyone's);
-- other slots stay in flight.
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
redis.call('DEL', KEYS[1])
return failures
