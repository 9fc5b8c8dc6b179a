-- KEYS: the user's stamp.
-- ARGV: the stamp's fields (token, pending, snapshot, snapshot-token, snapshot-server,
-- snapshot-at); the token read before the user was loaded from MongoDB; the snapshot.
-- Returns 1 when the snapshot was written (that token still current, no write in flight),
-- else 0. It is written with the token, this server's run_id and its clock (microseconds):
-- check.lua serves it only under all three.
local stamp = redis.call('HMGET', KEYS[1], ARGV[1], ARGV[2])
if stamp[1] ~= ARGV[7] or (tonumber(stamp[2]) or 0) > 0 then
  return 0
end
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local time = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[3], ARGV[8], ARGV[4], ARGV[7], ARGV[5], server,
  ARGV[6], string.format('%d', tonumber(time[1]) * 1000000 + tonumber(time[2])))
return 1
