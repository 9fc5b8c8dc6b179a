-- KEYS[1] the challenge. Counts one attempt; returns nil when the challenge is gone or
-- used up (then it is deleted), else {user id, amr, credential version, attempts left}.
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local left = redis.call('HINCRBY', KEYS[1], 'left', -1)
if left < 0 then
  redis.call('DEL', KEYS[1])
  return nil
end
return {redis.call('HGET', KEYS[1], 'user'), redis.call('HGET', KEYS[1], 'amr'),
        redis.call('HGET', KEYS[1], 'cv'), left}
