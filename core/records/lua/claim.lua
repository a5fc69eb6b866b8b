-- KEYS: the unit, the running index, the unit's sampler batch set; ARGV: layout, me, max units, now, then the ids
-- of the other live workers that could run the unit (its peers). -> the claimed keys (the unit first) or {}.
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
-- A fair share of what waits: split between this worker and its idle peers (those holding no running unit), so
-- that one worker does not take every waiting request into one batch while another sits idle beside it.
local idle, busy = 1, {}
if #ARGV > 4 then
  for _, k in ipairs(redis.call('ZRANGE', running, 0, -1)) do
    local c = redis.call('HGET', k, 'claimant')
    if c then busy[c] = true end
  end
  for i = 5, #ARGV do
    if not busy[ARGV[i]] then idle = idle + 1 end
  end
end
maxn = math.min(maxn, math.max(#out, math.ceil((#out + redis.call('ZCARD', pending)) / idle)))
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
