local function cancel_unit(key, running, webhooks, now)
  redis.call('ZREM', name('pending', redis.call('HGET', key, 'group') or ''), key)
  redis.call('ZREM', running, key)
  redis.call('HSET', key, 'state', 'cancelled', 'finished', now)
  ended(key, webhooks, now)
  redis.call('PUBLISH', name('events', key), 'cancelled')
end
