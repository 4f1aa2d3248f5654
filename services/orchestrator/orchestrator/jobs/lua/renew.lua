-- Renews the leases a worker holds: XCLAIM JUSTID resets an entry's idle time without counting a delivery.
-- ARGV[4] worker, then job id, fence pairs. Returns per job: 0 lost, 1 held, 2 held and cancel requested.
local worker = ARGV[4]
local out = {}
for i = 5, #ARGV, 2 do
  local job = redis.call('HMGET', job_key(ARGV[i]), 'status', 'worker', 'fence', 'entry_id', 'priority',
    'cancel_requested')
  if holds(job, worker, ARGV[i + 1]) then
    redis.call('XCLAIM', STREAM[job[5]], GROUP, worker, 0, job[4], 'JUSTID')
    out[#out + 1] = job[6] == '1' and 2 or 1
  else
    out[#out + 1] = 0
  end
end
return out
