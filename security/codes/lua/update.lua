-- KEYS[1] flow; ARGV: allowed stages joined by ',', then field/value pairs.
local stage = redis.call('HGET', KEYS[1], 'stage')
if not stage or not string.find(',' .. ARGV[1] .. ',', ',' .. stage .. ',', 1, true) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
