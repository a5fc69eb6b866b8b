-- KEYS: the unit, the running index, the webhooks set; ARGV: layout, now. -> the state after.
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'queued' or st == 'running' then
  cancel_unit(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
  return 'cancelled'
end
return st or ''
