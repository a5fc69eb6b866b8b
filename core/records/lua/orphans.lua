-- KEYS: the running index; ARGV: layout. Units claimed by a worker whose heartbeat is gone -> their keys;
-- index entries of units no longer running are dropped on the way.
local out = {}
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('HGET', k, 'state') ~= 'running' then
    redis.call('ZREM', KEYS[1], k)
  else
    local c = redis.call('HGET', k, 'claimant')
    if (not c) or c == '' or redis.call('EXISTS', name('hb', c)) == 0 then table.insert(out, k) end
  end
end
return out
