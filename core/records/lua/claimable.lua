-- Queued, or running for `me` (a redelivered task) or for a worker whose heartbeat is gone.
local function claimable(key, me)
  local st = redis.call('HGET', key, 'state')
  if st == 'queued' then return true end
  if st == 'running' then
    local c = redis.call('HGET', key, 'claimant')
    if (not c) or c == '' or c == me or redis.call('EXISTS', name('hb', c)) == 0 then return true end
  end
  return false
end
