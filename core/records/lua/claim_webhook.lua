-- KEYS: the webhooks set; ARGV: now, lease. -> the key of the earliest due delivery, now leased to the caller
-- (due again after `lease` seconds, so a sender that dies mid-delivery leaves it to another), or false.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), due[1])
return due[1]
