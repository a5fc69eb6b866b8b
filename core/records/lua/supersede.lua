-- KEYS: the owner's supersede hash (client key -> the job submitted last with it), the running index, the
-- webhooks set; ARGV: layout, the client's key, the new job's id, now. The job the key named before is
-- cancelled if it is still queued (a running one finishes: its worker is at it already).
-- -> the id of the job cancelled, or false.
local token, new, now = ARGV[2], ARGV[3], ARGV[4]
local old = redis.call('HGET', KEYS[1], token)
redis.call('HSET', KEYS[1], token, new)
redis.call('EXPIRE', KEYS[1], 86400)
if not old or old == new then return false end
local key = name('job', old)
if redis.call('HGET', key, 'state') ~= 'queued' then return false end
redis.call('HSET', key, 'error', 'superseded by job ' .. new)
cancel_unit(key, KEYS[2], KEYS[3], now)
return old
