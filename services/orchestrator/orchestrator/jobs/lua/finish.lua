-- Records the outcome of one attempt, then acknowledges its stream entry, in one step.
-- ARGV[4] job id, [5] worker, [6] the attempt's fence, [7] outcome status (succeeded|failed|cancelled|
-- dead|retrying, or queued: released by a worker shutting down), [8] error JSON or '', [9] retry delay (ms),
-- [10] dead-letter reason. Returns 'ok', or 'lost' when the lease has moved to another worker.
local id, worker, fence, outcome, error_json, delay_ms, reason =
  ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
local key = job_key(id)
local job = redis.call('HMGET', key, 'status', 'worker', 'fence', 'entry_id', 'priority', 'attempts')

-- The same call again, after its reply was lost on the way back (the next claim changes the fence).
if job[1] == outcome and same_attempt(job, worker, fence) then return 'ok' end
if not holds(job, worker, fence) then return 'lost' end

local ms = now_ms()
local stream, entry = STREAM[job[5]], job[4]
local data = {attempt = tonumber(job[6])}
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
  -- The attempt is given back (its fence is not), and the job goes to the tail of its stream for another
  -- worker.
  redis.call('HINCRBY', key, 'attempts', -1)
  redis.call('HSET', key, 'entry_id', redis.call('XADD', stream, '*', 'job', id))
  wake()
elseif outcome == 'retrying' then
  local due_ms = ms + delay_ms
  redis.call('HSET', key, 'run_at_ms', due_ms)
  redis.call('ZADD', DELAYED, due_ms, id)
end
return 'ok'
