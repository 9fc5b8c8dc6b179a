-- KEYS[1] counter; ARGV: the count kept in MongoDB, when its window ends (ms, Unix time).
-- Raises a count Redis lost (it restarted empty) back to MongoDB's, its window ending as
-- MongoDB's does; a higher count in Redis stays. Returns the count now.
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local kept = tonumber(ARGV[1])
if kept > n then
  redis.call('SET', KEYS[1], kept, 'PXAT', ARGV[2])
  return kept
end
return n
