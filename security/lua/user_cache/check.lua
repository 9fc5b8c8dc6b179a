-- KEYS: the session's live key, the user's stamp; ARGV: the stamp's two fields.
-- Returns {1 if the session is live else 0, {the stamp's two fields (nil when unset)}}.
return {redis.call('EXISTS', KEYS[1]), redis.call('HMGET', KEYS[2], ARGV[1], ARGV[2])}
