-- KEYS: the session's live key, the user's stamp (a hash: token, pending, snapshot,
-- snapshot-token, snapshot-server, snapshot-at).
-- ARGV: the token the caller's own copy of the user was kept under ('' for none); how
-- long, in microseconds, a confirmation of the session or a snapshot is trusted; '1' when
-- the caller has not confirmed the session itself lately, else '0'.
-- Returns {0 when the session is not live, 1 when it is, 2 when it is and a process found
-- it in MongoDB within that window on this very server (asked only with ARGV[3] '1');
-- {token, pending}; with 2, how long ago (microseconds), else nil; the snapshot written
-- under the current token on this server within the window, or nil; its age, or nil}.
-- The warm path (the caller holds a copy under the current token and has confirmed the
-- session itself) is one GET and one HMGET.
local live = redis.call('GET', KEYS[1])
local stamp = redis.call('HMGET', KEYS[2], 'token', 'pending')
if not live then
  return {0, stamp}
end
local window = tonumber(ARGV[2])
local state = 1
local confirmed_age = false
local server, now = nil, nil
local function clock()
  if not now then
    server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
    local time = redis.call('TIME')
    now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  end
end
-- A confirmation is "<run_id>:<microseconds>" (a key just vouched for holds '1'): a
-- restart or a failover (another run_id) or the window passing makes it worthless.
if ARGV[3] == '1' then
  local confirmed_on, confirmed_at = string.match(live, '^(%x+):(%d+)$')
  if confirmed_on then
    clock()
    confirmed_age = now - tonumber(confirmed_at)
    if confirmed_on == server and confirmed_age >= 0 and confirmed_age < window then
      state = 2
    else
      confirmed_age = false
    end
  end
end
if not stamp[1] or stamp[1] == ARGV[1] or (tonumber(stamp[2]) or 0) > 0 then
  if confirmed_age then
    return {state, stamp, confirmed_age}
  end
  return {state, stamp}
end
local snapshot = redis.call('HMGET', KEYS[2], 'snapshot', 'snapshot-token', 'snapshot-server', 'snapshot-at')
if not snapshot[1] or snapshot[2] ~= stamp[1] then
  return {state, stamp, confirmed_age}
end
clock()
local age = now - (tonumber(snapshot[4]) or 0)
if snapshot[3] ~= server or age < 0 or age >= window then
  return {state, stamp, confirmed_age}
end
return {state, stamp, confirmed_age, snapshot[1], age}
