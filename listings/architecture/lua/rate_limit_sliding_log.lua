-- Sliding window log, run atomically by EVALSHA. Shared by the Python
-- listing (py/rate_limiting.py) and the Rust one (src/bin/rate_limit_layer.rs).
-- KEYS[1]  a sorted set: one member per allowed request, scored by its time
-- KEYS[2]  a counter that makes members unique
--          (both keys share a {hash tag}, so a cluster keeps them together)
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

-- A request at time s counts while now < s + window.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = tonumber(oldest[2]) + window - now
  return {0, 0, wait, wait}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now, string.format('%d-%d', now, seq))
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[2], window)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {1, limit - count - 1, tonumber(oldest[2]) + window - now, 0}
