-- KEYS: the user's stamp (a hash: token, pending, snapshot, snapshot-token, snapshot-server,
-- snapshot-at).
-- ARGV: the token read before the user was loaded from MongoDB; the snapshot.
-- Returns 1 when the snapshot was written (that token still current, no write in flight),
-- else 0. It is written with the token, this server's run_id and its clock (microseconds):
-- check.lua serves it only under all three.
local stamp = redis.call('HMGET', KEYS[1], 'token', 'pending')
if stamp[1] ~= ARGV[1] or (tonumber(stamp[2]) or 0) > 0 then
  return 0
end
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not server then
  return 0  -- no run_id to bind it to (a proxy's INFO): no snapshot
end
local time = redis.call('TIME')
redis.call('HSET', KEYS[1], 'snapshot', ARGV[2], 'snapshot-token', ARGV[1], 'snapshot-server', server,
  'snapshot-at', string.format('%d', tonumber(time[1]) * 1000000 + tonumber(time[2])))
return 1
