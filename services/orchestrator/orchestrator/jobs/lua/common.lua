-- Shared by every queue script. scripts.py prepends a generated header (key builders, JOB_NEXT, PRIORITIES,
-- GROUP) and calls each script with the same leading KEYS and ARGV:
--   KEYS[1..3] the priority streams (high, normal, low), KEYS[4] delayed retries, KEYS[5] dead letters,
--   KEYS[6] the wake stream, KEYS[7] the index of all jobs;
--   ARGV[1] events kept per job, ARGV[2] their TTL after the job ends (s), ARGV[3] dead letters kept.
-- A script's own arguments start at ARGV[4].

local STREAM = {}
for i, prio in ipairs(PRIORITIES) do STREAM[prio] = KEYS[i] end
local DELAYED, DEAD, WAKE, JOBS = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local EVENTS_MAXLEN, EVENTS_TTL_S, DEAD_MAXLEN = ARGV[1], ARGV[2], ARGV[3]

-- The server's clock, so that every worker agrees on leases, due times and timestamps.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- One event on the job's own stream, which progress watchers (SSE) read.
local function emit(id, kind, data)
  redis.call('XADD', events_key(id), 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', kind, 'data', cjson.encode(data))
end

-- Idle workers block on the wake stream; a tick there means a stream has a new entry.
local function wake()
  redis.call('XADD', WAKE, 'MAXLEN', '~', 100, '*', 'n', '1')
end

-- Moves a job to another status and keeps its status index in step. It checks before its first write,
-- since Redis does not undo a script's earlier writes when it fails half-way; callers call it first.
local function set_status(id, from, to, ms, data)
  if not (JOB_NEXT[from] and JOB_NEXT[from][to]) then
    error('illegal job transition ' .. id .. ': ' .. tostring(from) .. ' -> ' .. to)
  end
  redis.call('ZREM', status_index(from), id)
  redis.call('ZADD', status_index(to), 0, id)
  redis.call('HSET', job_key(id), 'status', to, 'updated_at_ms', ms)
  data = data or {}
  data.status = to
  emit(id, 'status', data)
end

-- A final status: the finish time, the job's events expire after their TTL, and its secret (a
-- document's password) is gone: every way a job ends passes here.
local function finalize(id, from, to, ms, data)
  set_status(id, from, to, ms, data)
  redis.call('HSET', job_key(id), 'finished_at_ms', ms)
  redis.call('EXPIRE', events_key(id), EVENTS_TTL_S)
  redis.call('DEL', secret_key(id))
end

local function dead_letter(id, from, ms, reason, error_json)
  finalize(id, from, 'dead', ms, {reason = reason})
  local err = cjson.decode(error_json)
  local key = job_key(id)
  local job = redis.call('HMGET', key, 'type', 'attempts')
  local entry = redis.call('XADD', DEAD, 'MAXLEN', '~', DEAD_MAXLEN, '*', 'job', id, 'type', job[1],
    'reason', reason, 'code', err.code, 'message', err.message, 'attempts', job[2] or '0', 'at_ms', ms)
  redis.call('HSET', key, 'error', error_json, 'dead_reason', reason, 'dead_entry_id', entry)
end

-- A stream entry is acknowledged and deleted once the job's outcome is recorded: the record keeps history.
local function drop_entry(stream, entry)
  redis.call('XACK', stream, GROUP, entry)
  redis.call('XDEL', stream, entry)
end

-- What holding a lease means (jobs/fence.py says the same for Python): the job runs on this worker in
-- this attempt's fence. `job` is HMGET status, worker, fence, ...; a fence older code never wrote is '0'.
-- The fence, not `attempts`: attempts is a budget that requeue resets and a release gives back, so a
-- stale attempt on the same worker could carry the same number as the current one.
local function same_attempt(job, worker, fence)
  return job[2] == worker and (job[3] or '0') == fence
end

local function holds(job, worker, fence)
  return job[1] == 'running' and same_attempt(job, worker, fence)
end
