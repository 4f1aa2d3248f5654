-- Writes a progress update to the job's record and its event stream, if this worker holds the lease.
-- ARGV[4] job id, [5] worker, [6] the attempt's fence, [7] stage or '', [8] progress JSON or ''.
-- Returns 0 lost, 1 held, 2 held and cancel requested.
local id, worker, fence, stage, progress = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key = job_key(id)
local job = redis.call('HMGET', key, 'status', 'worker', 'fence', 'cancel_requested', 'attempts')
if not holds(job, worker, fence) then return 0 end

local data = {attempt = tonumber(job[5])}
if stage ~= '' then
  redis.call('HSET', key, 'stage', stage)
  data.stage = stage
end
if progress ~= '' then
  redis.call('HSET', key, 'progress', progress)
  data.progress = cjson.decode(progress)
end
redis.call('HSET', key, 'updated_at_ms', now_ms())
emit(id, 'progress', data)
return job[4] == '1' and 2 or 1
