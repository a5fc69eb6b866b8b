-- KEYS: the image, the encode group's pending set, the used index; ARGV: model fingerprint ('' = unknown), now,
-- the encode group, the encode lane, then field/value pairs. -> 'new' when (re)queued now, else the current state.
-- A failed encoding, or one made with another model, is queued again; a queued or running one is left alone.
-- Either way the image was used now (retention).
local image, pending, model, now = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
redis.call('ZADD', KEYS[3], now, image)
local st = redis.call('HGET', image, 'state')
local stale = st == 'succeeded' and model ~= '' and redis.call('HGET', image, 'model') ~= model
if st == 'queued' or st == 'running' or (st == 'succeeded' and not stale) then return st end
redis.call('HDEL', image, 'chunks', 'error', 'claimant', 'leader')
for i = 5, #ARGV, 2 do redis.call('HSET', image, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', image, 'state', 'queued', 'group', ARGV[3], 'lane', ARGV[4], 'done', 0, 'total', 0, 'queued_at', now)
redis.call('ZADD', pending, now, image)
return 'new'
