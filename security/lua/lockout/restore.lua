-- KEYS: the client's failures hash, then the address's failures hash (one hash tag).
-- ARGV: for the client, then the address: failures counted in MongoDB, the last one's
-- time (ms), when their window ends (ms), the threshold; then base lock ms, max lock ms.
-- Returns 0. Raises a count Redis lost (it restarted empty) back to MongoDB's, with the
-- lock those failures earned, running from the last one; a higher count in Redis stays.
-- `now` is Redis's clock.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function restore(key, failures, last_at, window_end, threshold, windowed)
  if failures <= 0 or window_end <= now then return end
  local current = tonumber(redis.call('HGET', key, 'failures') or '0')
  if windowed and tonumber(redis.call('HGET', key, 'window_until_ms') or '0') <= now then current = 0 end
  if current >= failures then return end
  redis.call('HSET', key, 'failures', failures)
  if windowed then redis.call('HSET', key, 'window_until_ms', string.format('%d', window_end)) end
  local ends = window_end
  if failures >= threshold then
    local ms = math.min(tonumber(ARGV[9]) * 2 ^ (failures - threshold), tonumber(ARGV[10]))
    local locked = last_at + ms
    if locked > tonumber(redis.call('HGET', key, 'locked_until_ms') or '0') then
      redis.call('HSET', key, 'locked_until_ms', string.format('%d', locked))
    end
    ends = math.max(ends, locked)
  end
  redis.call('PEXPIREAT', key, string.format('%d', ends))
end
restore(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), false)
restore(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), true)
return 0
