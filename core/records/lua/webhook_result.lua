-- KEYS: the webhooks set, the record; ARGV: delivery status JSON, when it is due again ('' = never).
-- A record deleted meanwhile (retention) is not written back.
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'webhook', ARGV[1]) end
if ARGV[2] == '' or redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], KEYS[2])
else redis.call('ZADD', KEYS[1], ARGV[2], KEYS[2]) end
return 1
