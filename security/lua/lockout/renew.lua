-- KEYS: the client's and the address's in-flight sorted sets. ARGV: slot id, slot ttl ms.
-- Moves the slot's deadline to now + ttl where the slot is still in flight (a slot
-- already freed or expired stays gone). `now` is Redis's clock.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for _, slots in ipairs(KEYS) do
  if redis.call('ZADD', slots, 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) > 0 then
    redis.call('PEXPIRE', slots, ARGV[2])
  end
end
