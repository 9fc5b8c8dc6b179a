-- KEYS[1] counter. Takes back one count, never below zero and never on a key that
-- expired meanwhile (a DECR there would leave a counter without expiry). Returns the
-- count before.
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
