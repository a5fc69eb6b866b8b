-- KEYS: pending sets. -> the `lane` field of each one's first unit ('' when it has none, or the set is empty).
local out = {}
for i, k in ipairs(KEYS) do
  local first = redis.call('ZRANGE', k, 0, 0)[1]
  out[i] = first and (redis.call('HGET', first, 'lane') or '') or ''
end
return out
