-- A unit that closes may owe a webhook (core.webhooks): its own when it names a callback, and its batch's when
-- it is the batch's last open item. `ended` queues each at most once (the `webhook` field is set once) in the
-- `webhooks` sorted set, scored by when it is due; the API's sender (backend.api.webhooks) delivers it. A batch
-- counts its ended items (`ended`) only once it has a callback; `arm_batch.lua` counts those that ended before.
local function queue_webhook(key, webhooks, now)
  if redis.call('HSETNX', key, 'webhook', '{"state": "pending", "attempts": 0}') == 1 then
    redis.call('ZADD', webhooks, now, key)
  end
end
local function ended(key, webhooks, now)
  local cb = redis.call('HGET', key, 'callback')
  if cb and cb ~= '' then queue_webhook(key, webhooks, now) end
  local batch = redis.call('HGET', key, 'batch')
  if batch and batch ~= '' then
    local b = name('batch', batch)
    if redis.call('HEXISTS', b, 'callback') == 1 then
      local n = redis.call('HINCRBY', b, 'ended', 1)
      if n >= tonumber(redis.call('HGET', b, 'total') or '0') then queue_webhook(b, webhooks, now) end
    end
  end
end
