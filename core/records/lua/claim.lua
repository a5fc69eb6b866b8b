-- KEYS: the unit, the running index, the unit's sampler batch set; ARGV: layout, me, max units, now.
-- -> the claimed keys (the unit first) or {}.
local unit, running, sbatch = KEYS[1], KEYS[2], KEYS[3]
local me, maxn, now = ARGV[2], tonumber(ARGV[3]), ARGV[4]
if not claimable(unit, me) then return {} end
local pending = name('pending', redis.call('HGET', unit, 'group') or '')
local function claim(key)
  redis.call('ZREM', pending, key)
  redis.call('ZADD', running, now, key)
  redis.call('HSET', key, 'state', 'running', 'claimant', me, 'leader', unit, 'started', now)
  redis.call('PUBLISH', name('events', key), 'running')
end
claim(unit)
local out = {unit}
-- units an earlier run of this same task had claimed, if their worker died with them
for _, k in ipairs(redis.call('SMEMBERS', sbatch)) do
  if k ~= unit and redis.call('HGET', k, 'leader') == unit and claimable(k, me) then
    claim(k)
    table.insert(out, k)
  end
end
-- requests of the same group that are waiting: one sampler batch
while #out < maxn do
  local nxt = redis.call('ZRANGE', pending, 0, 0)
  if #nxt == 0 then break end
  redis.call('ZREM', pending, nxt[1])
  if claimable(nxt[1], me) then
    claim(nxt[1])
    table.insert(out, nxt[1])
  end
end
redis.call('DEL', sbatch)
redis.call('SADD', sbatch, unpack(out))
redis.call('EXPIRE', sbatch, 86400)
return out
