-- KEYS[1] a start cooldown; ARGV: the value this start set. Given back only by the start
-- that took it (one that expired meanwhile may belong to a later start). Returns 1 if
-- given back, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
