-- Fixed window counter, run atomically by EVALSHA. Shared by the Python
-- listing (py/rate_limiting.py) and the Rust one (src/bin/rate_limit_layer.rs).
-- KEYS[1]  a hash {w = window number, n = requests counted in it}
-- ARGV     limit, window in ms, now in ms ("" = ask Redis: TIME)
-- Returns  {allowed 1/0, remaining, ms until remaining grows, retry in ms}
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if not (limit and window and limit >= 1 and window >= 1) then
  return redis.error_reply('ERR rate limit: bad limit or window')
end
local now = tonumber(ARGV[3])
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
elseif not now then
  return redis.error_reply('ERR rate limit: bad time')
end

local number = math.floor(now / window)
local reset = (number + 1) * window - now -- the window's end
local stored = redis.call('HMGET', KEYS[1], 'w', 'n')
local count = 0
if tonumber(stored[1]) == number then count = tonumber(stored[2]) end
if count >= limit then
  return {0, 0, reset, reset}
end
count = count + 1
redis.call('HSET', KEYS[1], 'w', number, 'n', count)
-- A stale window number is ignored anyway; expiry only frees memory.
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - count, reset, 0}
