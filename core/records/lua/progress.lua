-- KEYS: units; ARGV: layout, done, total. Records progress of the running ones -> every unit's state.
local out = {}
for i, k in ipairs(KEYS) do
  local st = redis.call('HGET', k, 'state')
  if st == 'running' then
    redis.call('HSET', k, 'done', ARGV[2], 'total', ARGV[3])
    redis.call('PUBLISH', name('events', k), 'running')
  end
  out[i] = st or ''
end
return out
