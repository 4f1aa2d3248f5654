-- Records the outcome of one attempt, then acknowledges its stream entry, in one step.
-- ARGV[4] job id, [5] worker, [6] attempt, [7] outcome status (succeeded|failed|cancelled|dead|retrying,
-- or queued: released by a worker shutting down), [8] error JSON or '', [9] retry delay (ms),
-- [10] dead-letter reason. Returns 'ok', or 'lost' when the lease has moved to another worker.
local id, worker, attempt, outcome, error_json, delay_ms, reason =
  ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
local key = job_key(id)
local job = redis.call('HMGET', key, 'status', 'worker', 'attempts', 'entry_id', 'priority')

-- The same call again, after its reply was lost on the way back.
if job[1] == outcome and job[2] == worker and job[3] == attempt then return 'ok' end
if not holds(job, worker, attempt) then return 'lost' end

local ms = now_ms()
local stream, entry = STREAM[job[5]], job[4]
local data = {attempt = tonumber(attempt)}
if error_json ~= '' then data.code = cjson.decode(error_json).code end

if outcome == 'dead' then
  dead_letter(id, 'running', ms, reason, error_json)
  drop_entry(stream, entry)
  return 'ok'
elseif outcome == 'queued' or outcome == 'retrying' then
  set_status(id, 'running', outcome, ms, data)
else
  finalize(id, 'running', outcome, ms, data)
end
drop_entry(stream, entry)

if error_json ~= '' then redis.call('HSET', key, 'error', error_json) end
if outcome == 'succeeded' then redis.call('HDEL', key, 'error') end
if outcome == 'queued' then
  -- The attempt is given back, and the job goes to the tail of its stream for another worker.
  redis.call('HINCRBY', key, 'attempts', -1)
  redis.call('HSET', key, 'entry_id', redis.call('XADD', stream, '*', 'job', id))
  wake()
elseif outcome == 'retrying' then
  local due_ms = ms + delay_ms
  redis.call('HSET', key, 'run_at_ms', due_ms)
  redis.call('ZADD', DELAYED, due_ms, id)
end
return 'ok'
