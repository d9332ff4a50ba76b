-- GCRA (generic cell rate algorithm), a token bucket kept as one timestamp,
-- run atomically by EVALSHA. Shared by the Python listing
-- (py/rate_limiting.py) and the Rust one (src/bin/rate_limit_layer.rs).
-- KEYS[1]  the theoretical arrival time (TAT) in ms
-- ARGV     limit, window in ms, now in ms ("" = ask Redis: TIME), burst
--          One request is earned every window / limit ms (a whole number:
--          the callers check), and up to `burst` may go at once.
-- Returns  {allowed 1/0, remaining, ms until remaining grows, retry in ms}
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst = tonumber(ARGV[4])
if not (limit and window and burst and limit >= 1 and burst >= 1
    and window >= limit and window % limit == 0) then
  return redis.error_reply('ERR rate limit: bad limit, window or burst')
end
local now = tonumber(ARGV[3])
if ARGV[3] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
elseif not now then
  return redis.error_reply('ERR rate limit: bad time')
end

local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local new_tat = math.max(tat, now) + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat),
  'PX', string.format('%d', new_tat - now))
local remaining = math.floor((now - allow_at) / interval)
return {1, remaining, allow_at + (remaining + 1) * interval - now, 0}
