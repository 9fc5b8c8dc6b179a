-- KEYS[1] flow; ARGV: code mac, code ttl ms, resend cooldown ms, flow ttl ms, then the
-- caller's field/value pairs. Times are Redis's clock. Returns now (ms).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
local flow_expires = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'stage', 'CODE_SENT', 'attempts', 0, 'code_mac', ARGV[1],
  'code_expires_ms', string.format('%d', now + tonumber(ARGV[2])),
  'resend_at_ms', string.format('%d', now + tonumber(ARGV[3])),
  'expires_ms', string.format('%d', flow_expires))
redis.call('PEXPIREAT', KEYS[1], string.format('%d', flow_expires))
return now
