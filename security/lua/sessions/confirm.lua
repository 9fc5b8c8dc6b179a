-- KEYS: the session's live key.
-- Returns 1 when the key was there (it now says "found in MongoDB just now, on this server":
-- "<run_id>:<microseconds>", its expiry kept), else 0 (ended meanwhile: nothing written).
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not server then
  return 0  -- no run_id to bind the mark to (a proxy's INFO): none written
end
local time = redis.call('TIME')
local at = server .. ':' .. string.format('%d', tonumber(time[1]) * 1000000 + tonumber(time[2]))
if redis.call('SET', KEYS[1], at, 'XX', 'KEEPTTL') then
  return 1
end
return 0
