-- Forgets finished jobs that ended at or before a cutoff: their record, their events and their index
-- entries, so Redis does not grow with every job ever run. Dead jobs stay (operators read them through
-- the dead-letter queue); a job that is not finished is never touched, whatever the caller passed.
-- ARGV[4] the cutoff (ms), ARGV[5..] job ids. Returns how many were forgotten.
local FORGETTABLE = {succeeded = true, failed = true, cancelled = true}
local cutoff_ms = tonumber(ARGV[4])
local forgotten = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local job = redis.call('HMGET', job_key(id), 'status', 'finished_at_ms', 'collection')
  local finished_ms = tonumber(job[2] or '')
  if job[1] and FORGETTABLE[job[1]] and finished_ms and finished_ms <= cutoff_ms then
    redis.call('DEL', job_key(id), events_key(id))
    redis.call('ZREM', JOBS, id)
    redis.call('ZREM', status_index(job[1]), id)
    if job[3] then redis.call('ZREM', collection_index(job[3]), id) end
    forgotten = forgotten + 1
  end
end
return forgotten
