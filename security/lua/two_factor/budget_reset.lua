-- KEYS[1] the budget hash. A right code: the window and its doubling end, the day's try
-- it took is given back. Returns 1, or 0 when there was no budget.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'used', 0, 'window_end', 0, 'level', 0)
if tonumber(redis.call('HGET', KEYS[1], 'day_used') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'day_used', -1)
end
return 1
