-- KEYS: an idempotency key; ARGV: body hash, ttl in ms. -> {'new', ''} when this call reserved it, else
-- {the body hash it was reserved with, the id it produced ('' while the first call is still making it)}.
local cur = redis.call('HGET', KEYS[1], 'body')
if not cur then
  redis.call('HSET', KEYS[1], 'body', ARGV[1], 'id', '')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new', ''}
end
return {cur, redis.call('HGET', KEYS[1], 'id') or ''}
