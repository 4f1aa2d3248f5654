-- Cancels a job. A waiting one ends `cancelled` at once and its entry is deleted (a claim moves an entry
-- and its job together, so a waiting job's entry is never pending on a worker). A running one is flagged;
-- its worker sees the flag between steps and stops.
-- ARGV[4] job id. Returns 'missing' or 'illegal:<status>', else {'cancelled' or 'cancel_requested', the job's
-- fields as HGETALL gives them}: the record as this cancel left it, before any worker moves it on.
local id = ARGV[4]
local key = job_key(id)
local job = redis.call('HMGET', key, 'status', 'entry_id', 'priority')
local status = job[1]
if not status then return 'missing' end
if status == 'running' then
  if redis.call('HGET', key, 'cancel_requested') ~= '1' then
    redis.call('HSET', key, 'cancel_requested', '1')
    emit(id, 'cancel_requested', {})
  end
  return {'cancel_requested', redis.call('HGETALL', key)}
end
if not JOB_NEXT[status]['cancelled'] then return 'illegal:' .. status end

finalize(id, status, 'cancelled', now_ms())
redis.call('ZREM', DELAYED, id)
if job[2] then redis.call('XDEL', STREAM[job[3]], job[2]) end
return {'cancelled', redis.call('HGETALL', key)}
