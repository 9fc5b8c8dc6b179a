-- KEYS[1] flow; ARGV: allowed stages joined by ',', counter field, limit.
local stage = redis.call('HGET', KEYS[1], 'stage')
if not stage or not string.find(',' .. ARGV[1] .. ',', ',' .. stage .. ',', 1, true) then
  return -1
end
if tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0') >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
return 1
