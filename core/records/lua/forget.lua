-- KEYS: a record, the used index, the record's owners set, its sampler batch set, its hot result; ARGV: layout, cutoff, the
-- record's id. Deletes it when it was last used before the cutoff and is not open (an image: no open job uses
-- it, as every job touches its images when made). -> 1 when deleted.
local key, used, owners, sbatch, hot = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local cutoff, id = tonumber(ARGV[2]), ARGV[3]
local last = redis.call('ZSCORE', used, key)
if last and tonumber(last) >= cutoff then return 0 end
local st = redis.call('HGET', key, 'state')
if st == 'queued' or st == 'running' then return 0 end
redis.call('ZREM', used, key)
for _, o in ipairs(redis.call('SMEMBERS', owners)) do
  redis.call('ZREM', name('owner_images', o), id)
  redis.call('HDEL', name('owner_names', o), id)
end
local owner = redis.call('HGET', key, 'owner')
if owner then redis.call('ZREM', name('owner_jobs', owner), id) end
redis.call('DEL', key, owners, sbatch, hot)
return 1
