-- KEYS: the unit, the running index, the webhooks set; ARGV: layout, new state, error, now, then field/value
-- pairs. Only an open unit is closed. -> 1 when it was.
local unit, running, webhooks = KEYS[1], KEYS[2], KEYS[3]
local state, now = ARGV[2], ARGV[4]
local st = redis.call('HGET', unit, 'state')
if st ~= 'queued' and st ~= 'running' then return 0 end
redis.call('ZREM', running, unit)
redis.call('HSET', unit, 'state', state, 'error', ARGV[3], 'finished', now)
if state == 'succeeded' then
  local total = redis.call('HGET', unit, 'total')
  if total then redis.call('HSET', unit, 'done', total) end
end
for i = 5, #ARGV, 2 do redis.call('HSET', unit, ARGV[i], ARGV[i + 1]) end
ended(unit, webhooks, now)
redis.call('PUBLISH', name('events', unit), state)
return 1
