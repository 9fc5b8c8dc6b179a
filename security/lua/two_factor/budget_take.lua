-- KEYS[1] the account's budget hash. ARGV: now (ms), tries per window, first window (ms),
-- tries per day, day (ms). Returns {tries left after this one (-1: refused), ms until the
-- refusal ends or the window closes}.
-- A window opens at the first try and lasts the first window times 2^level (at most a
-- day); each window used up raises the level; the day's tries are capped across windows.
local now = tonumber(ARGV[1])
local tries, base, daily, day = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', KEYS[1], 'used', 'window_end', 'level', 'day_used', 'day_end')
local used, window_end = tonumber(f[1]) or 0, tonumber(f[2]) or 0
local level, day_used, day_end = tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[5]) or 0
if day_end <= now then
  day_used = 0
  day_end = now + day
end
local left, wait = -1, 0
if day_used >= daily then
  wait = day_end - now
else
  if window_end <= now then
    used = 0
    window_end = now + math.min(base * 2 ^ level, day)
  end
  if used >= tries then
    wait = window_end - now
  else
    used = used + 1
    day_used = day_used + 1
    if used >= tries then level = level + 1 end
    left = math.min(tries - used, daily - day_used)
    wait = window_end - now
  end
end
redis.call('HSET', KEYS[1], 'used', used, 'window_end', window_end, 'level', level,
           'day_used', day_used, 'day_end', day_end)
redis.call('PEXPIRE', KEYS[1], math.max(day_end, window_end) - now)
return {left, wait}
