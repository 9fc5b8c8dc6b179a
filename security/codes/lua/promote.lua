-- KEYS[1] flow; ARGV: the pending mac a resend stored. Its mail was delivered: that code
-- replaces the delivered one (unless the flow moved on); other resends stay pending.
if redis.call('HGET', KEYS[1], 'stage') ~= 'CODE_SENT' then return 0 end
local kept, found = {}, nil
for mac, expires in string.gmatch(redis.call('HGET', KEYS[1], 'pending') or '', '(%x+):(%d+)') do
  if mac == ARGV[1] then found = expires else table.insert(kept, mac .. ':' .. expires) end
end
if not found then return 0 end
redis.call('HSET', KEYS[1], 'code_mac', ARGV[1], 'code_expires_ms', found)
if #kept == 0 then
  redis.call('HDEL', KEYS[1], 'pending')
else
  redis.call('HSET', KEYS[1], 'pending', table.concat(kept, ' '))
end
return 1
