-- KEYS[1] flow; ARGV: the pending mac a resend stored, then optionally the resend time it
-- set and the one before it. Its mail was not queued (give the resend back) or was
-- abandoned: drop that code; the others stay.
local kept, found = {}, false
for mac, expires in string.gmatch(redis.call('HGET', KEYS[1], 'pending') or '', '(%x+):(%d+)') do
  if mac == ARGV[1] then found = true else table.insert(kept, mac .. ':' .. expires) end
end
if not found then return 0 end
if #kept == 0 then
  redis.call('HDEL', KEYS[1], 'pending')
else
  redis.call('HSET', KEYS[1], 'pending', table.concat(kept, ' '))
end
if ARGV[2] and redis.call('HGET', KEYS[1], 'resend_at_ms') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'resend_at_ms', ARGV[3])
end
return 1
