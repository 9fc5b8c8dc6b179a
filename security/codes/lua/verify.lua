-- KEYS[1] flow; ARGV: candidate mac, max attempts, token mac.
-- Returns {status, attempts left}, and on 'ok' the verified flow's fields after them (field,
-- value, ...): the next step needs them, and reading them here saves it a round trip.
-- Counts the attempt before comparing, compares in constant time against the delivered
-- code and every resent code whose mail is still on its way, and burns the flow after
-- the last allowed wrong code. `now` is Redis's clock, the same for every app host.
local stage = redis.call('HGET', KEYS[1], 'stage')
if stage ~= 'CODE_SENT' then return {'expired', 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local max = tonumber(ARGV[2])
local candidate = ARGV[1]
local function same(stored)
  local diff = 0
  if #stored ~= #candidate then diff = 1 end
  for i = 1, #candidate do
    diff = bit.bor(diff, bit.bxor(string.byte(candidate, i), string.byte(stored, i) or 0))
  end
  return diff == 0
end
local ok = false
local current = redis.call('HGET', KEYS[1], 'code_mac') or ''
if same(current) and tonumber(redis.call('HGET', KEYS[1], 'code_expires_ms') or '0') >= now then
  ok = true
end
for mac, expires in string.gmatch(redis.call('HGET', KEYS[1], 'pending') or '', '(%x+):(%d+)') do
  if same(mac) and tonumber(expires) >= now then ok = true end
end
if ok then
  redis.call('HSET', KEYS[1], 'stage', 'VERIFIED', 'token_mac', ARGV[3])
  redis.call('HDEL', KEYS[1], 'code_mac', 'code_expires_ms', 'pending')
  local reply = redis.call('HGETALL', KEYS[1])
  table.insert(reply, 1, max - attempts)
  table.insert(reply, 1, 'ok')
  return reply
end
if attempts >= max then
  redis.call('DEL', KEYS[1])
  return {'burnt', 0}
end
return {'wrong', max - attempts}
