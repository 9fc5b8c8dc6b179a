-- KEYS[1] flow; ARGV: new code mac, code ttl ms, resend cooldown ms, most pending codes.
-- The new code waits in `pending` ("mac:expires_ms" separated by spaces) beside the
-- delivered one and any earlier resend whose mail is still on its way: each is promoted
-- when its own mail is delivered. Returns {'ok', resend time before, now} |
-- {'wait', ms left, now} | {'expired', 0, 0}.
if redis.call('HGET', KEYS[1], 'stage') ~= 'CODE_SENT' then return {'expired', 0, 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local resend_at = tonumber(redis.call('HGET', KEYS[1], 'resend_at_ms') or '0')
if resend_at > now then return {'wait', resend_at - now, now} end
local kept = {}
for mac, expires in string.gmatch(redis.call('HGET', KEYS[1], 'pending') or '', '(%x+):(%d+)') do
  if tonumber(expires) >= now then table.insert(kept, mac .. ':' .. expires) end
end
while #kept >= tonumber(ARGV[4]) do table.remove(kept, 1) end
table.insert(kept, ARGV[1] .. ':' .. string.format('%d', now + tonumber(ARGV[2])))
redis.call('HSET', KEYS[1], 'pending', table.concat(kept, ' '),
  'resend_at_ms', string.format('%d', now + tonumber(ARGV[3])))
return {'ok', resend_at, now}
