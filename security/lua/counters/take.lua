-- KEYS[1] counter; ARGV: window seconds, how many to count. Returns {count, ttl s}.
-- The window opens with the first count (EXPIRE on a new key), in Redis's own clock.
local n = redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]))
if n == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return {n, redis.call('TTL', KEYS[1])}
