-- Creates a job, or finds the one made before for a known idempotency key.
-- Returns {created (1|0), the job's record as a flat HGETALL}. The key keeps the fingerprint it was
-- first stored with (the request it stands for), which callers read to compare with their own.
-- ARGV[4] id, [5] idempotency key or '', [6] its TTL (s), [7] collection or '', [8] priority,
-- [9] the request's fingerprint or '', [10..] the record's other fields as field, value pairs.
local id, idem, idem_ttl_s, collection, prio, fingerprint = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]

if idem ~= '' then
  local existing = redis.call('HGET', idempotency_key(idem), 'job')
  if existing then
    local record = redis.call('HGETALL', job_key(existing))
    if #record > 0 then return {0, record} end
  end
end

local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
local ms = now_ms()
local entry = redis.call('XADD', STREAM[prio], '*', 'job', id)
redis.call('HSET', job_key(id), 'status', 'queued', 'priority', prio, 'entry_id', entry,
  'created_at_ms', ms, 'updated_at_ms', ms, unpack(fields))
redis.call('ZADD', JOBS, 0, id)
redis.call('ZADD', status_index('queued'), 0, id)
if collection ~= '' then redis.call('ZADD', collection_index(collection), 0, id) end
if idem ~= '' then
  redis.call('HSET', idempotency_key(idem), 'job', id, 'fingerprint', fingerprint)
  redis.call('EXPIRE', idempotency_key(idem), idem_ttl_s)
end
emit(id, 'status', {status = 'queued'})
wake()
return {1, redis.call('HGETALL', job_key(id))}
