-- Claims up to `count` jobs for one worker, atomically with their move to `running`.
-- ARGV[4] worker (consumer) id, [5] count, [6] lease (ms), [7] max deliveries.
-- KEYS[8..10] the XAUTOCLAIM cursor of each priority stream.
-- Returns {jobs (each a flat HGETALL), ms until the next delayed retry is due or -1, last wake entry id}.
-- Every claim starts a new attempt with a new fence (HINCRBY: 1 for a job older code wrote without one);
-- nothing else writes the fence, so it never repeats and a stale attempt can never hold the lease again.
local worker, want, lease_ms, max_deliveries = ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local ms = now_ms()

-- Retries that are due go back to the tail of their priority stream.
local due = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', ms, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('ZREM', DELAYED, id)
  local prio = redis.call('HGET', job_key(id), 'priority')
  if prio then redis.call('HSET', job_key(id), 'entry_id', redis.call('XADD', STREAM[prio], '*', 'job', id)) end
end
if #due > 0 then wake() end

-- Highest priority first; within a priority, entries whose lease lapsed come before new ones.
local candidates = {}
local function add(stream, entries)
  for _, e in ipairs(entries) do
    if e[2] then candidates[#candidates + 1] = {stream, e[1], e[2][2]} end
  end
end
for i, prio in ipairs(PRIORITIES) do
  local stream = STREAM[prio]
  if #candidates < want then
    local cursor = redis.call('GET', KEYS[7 + i]) or '0-0'
    local lapsed = redis.call('XAUTOCLAIM', stream, GROUP, worker, lease_ms, cursor, 'COUNT', want - #candidates)
    redis.call('SET', KEYS[7 + i], lapsed[1])
    add(stream, lapsed[2])
  end
  if #candidates < want then
    local fresh = redis.call('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', want - #candidates, 'STREAMS', stream, '>')
    if fresh then add(stream, fresh[1][2]) end
  end
end

local started = {}
for _, c in ipairs(candidates) do
  local stream, entry, id = c[1], c[2], c[3]
  local key = job_key(id)
  local job = redis.call('HMGET', key, 'status', 'attempts', 'cancel_requested', 'entry_id')
  local status, attempts = job[1], tonumber(job[2] or '0')
  if not status or job[4] ~= entry or not JOB_NEXT[status]['running'] then
    -- Finished, cancelled or superseded while its entry waited: nothing to run.
    drop_entry(stream, entry)
  elseif status == 'running' and job[3] == '1' then
    -- Cancelled while running on a worker that then died.
    finalize(id, status, 'cancelled', ms, {attempt = attempts})
    drop_entry(stream, entry)
  elseif status == 'running' and attempts >= max_deliveries then
    -- Its lease lapsed on every attempt: it kills or stalls the workers that run it.
    local err = cjson.encode({code = 'worker_lost', retryable = false, poison = true,
      message = 'no outcome after ' .. attempts .. ' deliveries; the workers running it died or stalled'})
    dead_letter(id, status, ms, 'worker_lost', err)
    drop_entry(stream, entry)
  else
    attempts = attempts + 1
    set_status(id, status, 'running', ms, {attempt = attempts, worker = worker})
    redis.call('HINCRBY', key, 'fence', 1)
    redis.call('HSET', key, 'attempts', attempts, 'worker', worker, 'started_at_ms', ms)
    redis.call('HDEL', key, 'run_at_ms')
    started[#started + 1] = redis.call('HGETALL', key)
  end
end

local due_in_ms = -1
local next_due = redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')
if next_due[2] then due_in_ms = math.max(0, tonumber(next_due[2]) - ms) end
local last_wake = redis.call('XREVRANGE', WAKE, '+', '-', 'COUNT', 1)
return {started, due_in_ms, last_wake[1] and last_wake[1][1] or '0-0'}
