-- Queues a failed job again, or replays a dead letter, with a fresh attempt budget. The fence stays: the
-- next claim moves it past every earlier attempt's, so none of them can hold the lease again.
-- ARGV[4] job id. Returns 'queued', 'missing' or 'illegal:<status>'.
local id = ARGV[4]
local key = job_key(id)
local job = redis.call('HMGET', key, 'status', 'priority', 'dead_entry_id')
local status = job[1]
if not status then return 'missing' end
if status == 'running' or not JOB_NEXT[status]['queued'] then return 'illegal:' .. status end

set_status(id, status, 'queued', now_ms(), {requeued = true})
if job[3] then redis.call('XDEL', DEAD, job[3]) end
redis.call('HDEL', key, 'error', 'dead_reason', 'dead_entry_id', 'finished_at_ms', 'run_at_ms',
  'cancel_requested', 'worker', 'stage', 'progress')
redis.call('HSET', key, 'attempts', 0, 'entry_id', redis.call('XADD', STREAM[job[2]], '*', 'job', id))
redis.call('PERSIST', events_key(id))
wake()
return 'queued'
