-- KEYS: a batch, the webhooks set; ARGV: layout, callback URL, now. Gives the batch its callback and counts its
-- items that ended already; when that is all of them, its webhook is queued now (else by its last item's `ended`).
local b = KEYS[1]
redis.call('HSET', b, 'callback', ARGV[2])
local n = 0
for _, j in ipairs(cjson.decode(redis.call('HGET', b, 'jobs') or '[]')) do
  local st = redis.call('HGET', name('job', j), 'state')
  if st ~= 'queued' and st ~= 'running' then n = n + 1 end
end
redis.call('HSET', b, 'ended', n)
if n >= tonumber(redis.call('HGET', b, 'total') or '0') then queue_webhook(b, KEYS[2], ARGV[3]) end
return n
