/* queue_lua.c - the Lua scripts behind every state change of a job.
 *
 * Each script is the shared prelude (helpers: the clock, counters, events,
 * expiry, retry and the fence) followed by its body. Keys are built from the
 * prefix in ARGV[1] (see keys.h), which Redis allows outside cluster mode.
 * A script either checks everything before writing or writes nothing it
 * would need to undo: Redis does not roll a script back. */
#include "queue_lua.h"

/* clang-format off */
#define LUA_PRELUDE \
	"-- Shared by every script. ARGV[1] is the key prefix.\n" \
	"local P = ARGV[1]\n" \
	"local STATS = P .. 'stats'\n" \
	"local JOBS = P .. 'jobs'\n" \
	"local REQS = P .. 'requests'\n" \
	"local t_ = redis.call('TIME')\n" \
	"local NOW = tonumber(t_[1]) * 1000 + math.floor(tonumber(t_[2]) / 1000)\n" \
	"local LIVE = {queued = true, running = true, retry_wait = true}\n" \
	"local FINAL = {done = true, cancelled = true, rejected = true, dead = true}\n" \
	"local function I(x) return string.format('%d', x) end\n" \
	"local function jkey(id) return P .. 'job:' .. id end\n" \
	"-- Append an event; state and attempt are the job's as they are now.\n" \
	"local function emit(id, typ, extra)\n" \
	"  local k = jkey(id)\n" \
	"  local h = redis.call('HMGET', k, 'events_max', 'state', 'attempt')\n" \
	"  local a = {'XADD', k .. ':events', 'MAXLEN', '~', h[1] or '1000', '*', 'type', typ,\n" \
	"    'state', h[2] or '', 'attempt', h[3] or '0', 'at', I(NOW)}\n" \
	"  for i = 1, #extra do a[#a + 1] = extra[i] end\n" \
	"  redis.call(unpack(a))\n" \
	"end\n" \
	"-- Every state change goes through here so the counters stay right:\n" \
	"-- live states count jobs now in them, final states count jobs ever.\n" \
	"local function set_state(id, old, new)\n" \
	"  if old == new then return end\n" \
	"  if LIVE[old] then redis.call('HINCRBY', STATS, old, -1) end\n" \
	"  if LIVE[new] then redis.call('HINCRBY', STATS, new, 1)\n" \
	"  else\n" \
	"    redis.call('HINCRBY', STATS, 'total:' .. new, 1)\n" \
	"    local kd = redis.call('HGET', jkey(id), 'kind')\n" \
	"    if not kd or kd == '' then kd = 'none' end\n" \
	"    redis.call('HINCRBY', STATS, 'total:' .. new .. ':' .. kd, 1)\n" \
	"  end\n" \
	"  redis.call('HSET', jkey(id), 'state', new, 'updated', I(NOW))\n" \
	"end\n" \
	"-- Acknowledge and delete the job's entry in the work stream, if it has one.\n" \
	"-- (XDEL alone would leave it in the pending list.)\n" \
	"local function drop_entry(id)\n" \
	"  local k = jkey(id)\n" \
	"  local e = redis.call('HGET', k, 'entry')\n" \
	"  if e and e ~= '' then\n" \
	"    redis.call('XACK', JOBS, 'workers', e)\n" \
	"    redis.call('XDEL', JOBS, e)\n" \
	"    redis.call('HSET', k, 'entry', '')\n" \
	"  end\n" \
	"end\n" \
	"local function enqueue(id)\n" \
	"  local e = redis.call('XADD', JOBS, '*', 'job', id)\n" \
	"  redis.call('HSET', jkey(id), 'entry', e)\n" \
	"end\n" \
	"-- Every key of a job: its hash, events, iterations and registered aux keys.\n" \
	"local function job_keys(id)\n" \
	"  local k = jkey(id)\n" \
	"  local h = redis.call('HMGET', k, 'iterations', 'aux')\n" \
	"  local keys = {k, k .. ':events'}\n" \
	"  for i = 0, (tonumber(h[1]) or -1) do keys[#keys + 1] = k .. ':it:' .. i end\n" \
	"  if h[2] then\n" \
	"    for s in string.gmatch(h[2], '%S+') do keys[#keys + 1] = k .. ':' .. s end\n" \
	"  end\n" \
	"  return keys\n" \
	"end\n" \
	"-- A final job leaves every index and all its keys expire together. Its\n" \
	"-- size joins P finished (member '<id> <bytes>', oldest first), which\n" \
	"-- retention by size trims.\n" \
	"local function finalize(id)\n" \
	"  local k = jkey(id)\n" \
	"  drop_entry(id)\n" \
	"  redis.call('ZREM', P .. 'leases', id)\n" \
	"  redis.call('ZREM', P .. 'delayed', id)\n" \
	"  redis.call('HSET', k, 'finished', I(NOW))\n" \
	"  redis.call('HDEL', k, 'lease_until', 'retry_at')\n" \
	"  -- A callback_url in the (validated) spec: the outbox delivers it.\n" \
	"  local h = redis.call('HMGET', k, 'state', 'spec')\n" \
	"  if h[1] ~= 'rejected' and h[2] and string.find(h[2], '\"callback_url\"', 1, true) then\n" \
	"    local ok, t = pcall(cjson.decode, h[2])\n" \
	"    if ok and type(t) == 'table' and type(t.callback_url) == 'string' then\n" \
	"      redis.call('HSET', k, 'callback', t.callback_url, 'callback_state', 'pending')\n" \
	"      redis.call('ZADD', P .. 'callbacks', I(NOW), id)\n" \
	"    end\n" \
	"  end\n" \
	"  local ttl = tonumber(redis.call('HGET', k, 'ttl')) or 86400\n" \
	"  local bytes = 0\n" \
	"  for _, key in ipairs(job_keys(id)) do\n" \
	"    redis.call('EXPIRE', key, ttl)\n" \
	"    bytes = bytes + (redis.call('MEMORY', 'USAGE', key) or 0)\n" \
	"  end\n" \
	"  redis.call('ZADD', P .. 'finished', I(NOW), id .. ' ' .. I(bytes))\n" \
	"  redis.call('HINCRBY', STATS, 'finished_bytes', bytes)\n" \
	"end\n" \
	"local function to_final(id, old, state, reason)\n" \
	"  local k = jkey(id)\n" \
	"  set_state(id, old, state)\n" \
	"  redis.call('HSET', k, 'final_attempt', redis.call('HGET', k, 'attempt') or '0')\n" \
	"  local ev = {}\n" \
	"  if reason then\n" \
	"    redis.call('HSET', k, 'error', reason)\n" \
	"    ev = {'error', reason}\n" \
	"  end\n" \
	"  emit(id, state, ev)\n" \
	"  finalize(id)\n" \
	"end\n" \
	"local function dead_letter(id, old, reason)\n" \
	"  local k = jkey(id)\n" \
	"  redis.call('XADD', P .. 'dead', 'MAXLEN', '~', '10000', '*', 'job', id, 'error', reason,\n" \
	"    'attempt', redis.call('HGET', k, 'attempt') or '0', 'at', I(NOW))\n" \
	"  to_final(id, old, 'dead', reason)\n" \
	"end\n" \
	"-- A run that did not finish: back in line (count 0: released, not a\n" \
	"-- failure), later with backoff, or dead once it failed max_attempts times.\n" \
	"local function retry_or_dead(id, old, reason, count, rnd)\n" \
	"  local k = jkey(id)\n" \
	"  local h = redis.call('HMGET', k, 'failures', 'max_attempts', 'backoff_ms', 'backoff_max_ms')\n" \
	"  local failures = (tonumber(h[1]) or 0) + count\n" \
	"  redis.call('HSET', k, 'failures', I(failures), 'last_failure', reason, 'worker', '',\n" \
	"    'lease_until', '')\n" \
	"  drop_entry(id)\n" \
	"  redis.call('ZREM', P .. 'leases', id)\n" \
	"  if count == 0 then\n" \
	"    set_state(id, old, 'queued')\n" \
	"    enqueue(id)\n" \
	"    emit(id, 'released', {'reason', reason})\n" \
	"    return 'queued'\n" \
	"  end\n" \
	"  if failures >= (tonumber(h[2]) or 3) then\n" \
	"    dead_letter(id, old, reason .. '; gave up after ' .. failures .. ' failed attempts')\n" \
	"    return 'dead'\n" \
	"  end\n" \
	"  local base = tonumber(h[3]) or 1000\n" \
	"  local cap = tonumber(h[4]) or 60000\n" \
	"  local delay = math.floor(math.min(cap, base * 2 ^ (failures - 1)) * (0.8 + 0.4 * rnd))\n" \
	"  redis.call('ZADD', P .. 'delayed', I(NOW + delay), id)\n" \
	"  redis.call('HSET', k, 'retry_at', I(NOW + delay))\n" \
	"  set_state(id, old, 'retry_wait')\n" \
	"  redis.call('HINCRBY', STATS, 'total:retries', 1)\n" \
	"  emit(id, 'retry', {'reason', reason, 'retry_in_ms', I(delay)})\n" \
	"  return 'retry'\n" \
	"end\n" \
	"-- The fence: a worker may write only while the job is running its attempt.\n" \
	"local function fence(id, attempt)\n" \
	"  local h = redis.call('HMGET', jkey(id), 'state', 'attempt')\n" \
	"  if h[1] == 'running' and h[2] == attempt then return nil end\n" \
	"  redis.call('HINCRBY', STATS, 'total:stale_writes', 1)\n" \
	"  return {'stale', h[1] or 'gone', h[2] or '0'}\n" \
	"end\n" \
	"-- Record a request as a job (intake and take share it).\n" \
	"local function record(id, state, kind, spec, err, notes, bytes, pol)\n" \
	"  local k = jkey(id)\n" \
	"  redis.call('HSET', k, 'id', id, 'kind', kind, 'spec', spec, 'spec_bytes', bytes,\n" \
	"    'submitted', string.match(id, '^(%d+)-') or '', 'created', I(NOW), 'attempt', '0',\n" \
	"    'failures', '0', 'ttl', pol[1], 'max_attempts', pol[2], 'backoff_ms', pol[3],\n" \
	"    'backoff_max_ms', pol[4], 'events_max', pol[5])\n" \
	"  if notes ~= '' then redis.call('HSET', k, 'notes', notes) end\n" \
	"  redis.call('HINCRBY', STATS, 'total:submitted', 1)\n" \
	"  if state == 'queued' then\n" \
	"    set_state(id, nil, 'queued')\n" \
	"    enqueue(id)\n" \
	"    emit(id, 'queued', {})\n" \
	"  else\n" \
	"    to_final(id, nil, 'rejected', err)\n" \
	"  end\n" \
	"end\n" \
	"local function ack_request(id)\n" \
	"  redis.call('XACK', REQS, 'dispatchers', id)\n" \
	"  redis.call('XDEL', REQS, id)\n" \
	"end\n"

const lr_script lr_lua_intake = {"intake", LUA_PRELUDE
	"-- ARGV: P, id, state (queued|rejected), kind, spec, error, notes, spec_bytes,\n"
	"--       ttl, max_attempts, backoff_ms, backoff_max_ms, events_max\n"
	"local id = ARGV[2]\n"
	"if redis.call('EXISTS', jkey(id)) == 1 then\n"
	"  ack_request(id)\n"
	"  return 'exists'\n"
	"end\n"
	"record(id, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8],\n"
	"  {ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]})\n"
	"ack_request(id)\n"
	"return ARGV[3]\n"};

const lr_script lr_lua_take = {"take", LUA_PRELUDE
	"-- Take requests for this dispatcher without sending oversized ones out of\n"
	"-- Redis: those are rejected here. ARGV: P, consumer, count, max_bytes,\n"
	"-- ttl, max_attempts, backoff_ms, backoff_max_ms, events_max, [ids...]\n"
	"-- (ids: entries this dispatcher claimed from a stopped one; else new ones).\n"
	"-- Returns {id, spec, id, spec, ...} for the C side to validate.\n"
	"local pol = {ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]}\n"
	"local entries = {}\n"
	"if #ARGV > 9 then\n"
	"  for i = 10, #ARGV do\n"
	"    local r = redis.call('XRANGE', REQS, ARGV[i], ARGV[i])\n"
	"    if r[1] then entries[#entries + 1] = r[1]\n"
	"    else redis.call('XACK', REQS, 'dispatchers', ARGV[i]) end\n"
	"  end\n"
	"else\n"
	"  local r = redis.call('XREADGROUP', 'GROUP', 'dispatchers', ARGV[2], 'COUNT', ARGV[3],\n"
	"    'STREAMS', REQS, '>')\n"
	"  if r and r[1] then entries = r[1][2] end\n"
	"end\n"
	"local max = tonumber(ARGV[4])\n"
	"local out = {}\n"
	"for _, e in ipairs(entries) do\n"
	"  local id, f = e[1], e[2]\n"
	"  local spec, names = nil, {}\n"
	"  for i = 1, #f, 2 do\n"
	"    if f[i] == 'spec' then spec = f[i + 1] end\n"
	"    if #names < 8 then names[#names + 1] = string.sub(f[i], 1, 40) end\n"
	"  end\n"
	"  local why = nil\n"
	"  if not spec then\n"
	"    why = \"request has no 'spec' field (it has: \" .. table.concat(names, ', ') .. ')'\n"
	"  elseif #spec > max then\n"
	"    why = 'spec is ' .. #spec .. ' bytes, over the limit of ' .. max .. ' bytes'\n"
	"  end\n"
	"  if redis.call('EXISTS', jkey(id)) == 1 then\n"
	"    ack_request(id)\n"
	"  elseif why then\n"
	"    record(id, 'rejected', '', '', why, '', I(spec and #spec or 0), pol)\n"
	"    ack_request(id)\n"
	"  else\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = spec\n"
	"  end\n"
	"end\n"
	"return out\n"};

const lr_script lr_lua_claim = {"claim", LUA_PRELUDE
	"-- ARGV: P, id, entry, worker, lease_ms. Returns {'ok', attempt, spec, kind}\n"
	"-- or {'skip', why} (the entry is then acknowledged and deleted).\n"
	"local id, entry = ARGV[2], ARGV[3]\n"
	"local k = jkey(id)\n"
	"local h = redis.call('HMGET', k, 'state', 'entry', 'spec', 'kind')\n"
	"local function skip(why)\n"
	"  redis.call('XACK', JOBS, 'workers', entry)\n"
	"  redis.call('XDEL', JOBS, entry)\n"
	"  return {'skip', why}\n"
	"end\n"
	"if not h[1] then return skip('gone') end\n"
	"if h[2] ~= entry then return skip('superseded') end\n"
	"if h[1] ~= 'queued' then return skip(h[1]) end\n"
	"local attempt = redis.call('HINCRBY', k, 'attempt', 1)\n"
	"local lease = NOW + tonumber(ARGV[5])\n"
	"redis.call('HSET', k, 'worker', ARGV[4], 'lease_until', I(lease), 'started', I(NOW))\n"
	"redis.call('ZADD', P .. 'leases', I(lease), id)\n"
	"set_state(id, 'queued', 'running')\n"
	"emit(id, 'running', {'worker', ARGV[4]})\n"
	"return {'ok', attempt, h[3], h[4]}\n"};

const lr_script lr_lua_renew = {"renew", LUA_PRELUDE
	"-- ARGV: P, id, attempt, worker, lease_ms. {'ok'} or {'stale', state, attempt}.\n"
	"local id = ARGV[2]\n"
	"local k = jkey(id)\n"
	"local h = redis.call('HMGET', k, 'state', 'attempt', 'entry')\n"
	"if h[1] ~= 'running' or h[2] ~= ARGV[3] then return {'stale', h[1] or 'gone', h[2] or '0'} end\n"
	"local lease = NOW + tonumber(ARGV[5])\n"
	"redis.call('HSET', k, 'lease_until', I(lease))\n"
	"redis.call('ZADD', P .. 'leases', I(lease), id)\n"
	"-- Reset the entry's idle time so pending scans leave it alone.\n"
	"if h[3] and h[3] ~= '' then\n"
	"  redis.call('XCLAIM', JOBS, 'workers', ARGV[4], '0', h[3], 'JUSTID')\n"
	"end\n"
	"return {'ok'}\n"};

const lr_script lr_lua_write = {"write", LUA_PRELUDE
	"-- Fenced writes. ARGV: P, id, attempt, then operations:\n"
	"--   set <n> <field> <value> ...        fields of the job hash\n"
	"--   iter <i> <n> <field> <value> ...   fields of iteration i\n"
	"--   event <type> <n> <field> <value>   an event\n"
	"--   aux <suffix>                       a key P job:<id>:<suffix> that expires with the job\n"
	"-- All or nothing: the operations are checked before anything is written.\n"
	"local id = ARGV[2]\n"
	"local i = 4\n"
	"while i <= #ARGV do\n"
	"  local op = ARGV[i]\n"
	"  local n\n"
	"  if op == 'set' then n = tonumber(ARGV[i + 1]); i = i + 2\n"
	"  elseif op == 'iter' or op == 'event' then\n"
	"    n = tonumber(ARGV[i + 2]); i = i + 3\n"
	"    if op == 'iter' and not string.match(ARGV[i - 2], '^%d+$') then\n"
	"      return redis.error_reply('ERR iteration must be a number')\n"
	"    end\n"
	"  elseif op == 'aux' then\n"
	"    n = 0; i = i + 2\n"
	"    if not string.match(ARGV[i - 1] or '', '^[%w:_%-]+$') then\n"
	"      return redis.error_reply('ERR bad aux key suffix')\n"
	"    end\n"
	"  else return redis.error_reply('ERR unknown write operation') end\n"
	"  if not n or n < 0 then return redis.error_reply('ERR bad field count') end\n"
	"  i = i + 2 * n\n"
	"end\n"
	"if i ~= #ARGV + 1 then return redis.error_reply('ERR truncated operations') end\n"
	"local st = fence(id, ARGV[3])\n"
	"if st then return st end\n"
	"local k = jkey(id)\n"
	"i = 4\n"
	"while i <= #ARGV do\n"
	"  local op = ARGV[i]\n"
	"  if op == 'aux' then\n"
	"    local s = ARGV[i + 1]\n"
	"    local aux = redis.call('HGET', k, 'aux') or ''\n"
	"    if not string.find(' ' .. aux .. ' ', ' ' .. s .. ' ', 1, true) then\n"
	"      redis.call('HSET', k, 'aux', aux == '' and s or (aux .. ' ' .. s))\n"
	"    end\n"
	"    i = i + 2\n"
	"  else\n"
	"    local key, n, first = k, 0, 0\n"
	"    if op == 'set' then n = tonumber(ARGV[i + 1]); first = i + 2\n"
	"    else n = tonumber(ARGV[i + 2]); first = i + 3 end\n"
	"    local a = {}\n"
	"    for j = first, first + 2 * n - 1 do a[#a + 1] = ARGV[j] end\n"
	"    if op == 'set' and n > 0 then\n"
	"      redis.call('HSET', k, unpack(a))\n"
	"    elseif op == 'iter' then\n"
	"      local it = ARGV[i + 1]\n"
	"      if n > 0 then redis.call('HSET', k .. ':it:' .. it, unpack(a)) end\n"
	"      if tonumber(it) > (tonumber(redis.call('HGET', k, 'iterations')) or -1) then\n"
	"        redis.call('HSET', k, 'iterations', it)\n"
	"      end\n"
	"    elseif op == 'event' then\n"
	"      emit(id, ARGV[i + 1], a)\n"
	"    end\n"
	"    i = first + 2 * n\n"
	"  end\n"
	"end\n"
	"return {'ok'}\n"};

const lr_script lr_lua_finish = {"finish", LUA_PRELUDE
	"-- ARGV: P, id, attempt, passed (1|0), result, error, summary, then field/value\n"
	"-- pairs for the job hash. {'ok'}, {'already'} (this attempt finished it\n"
	"-- before; the reply was lost) or {'stale', state, attempt}.\n"
	"local id = ARGV[2]\n"
	"local k = jkey(id)\n"
	"local h = redis.call('HMGET', k, 'state', 'final_attempt')\n"
	"if h[1] == 'done' and h[2] == ARGV[3] then return {'already'} end\n"
	"local st = fence(id, ARGV[3])\n"
	"if st then return st end\n"
	"local a = {'HSET', k, 'passed', ARGV[4], 'result', ARGV[5], 'summary', ARGV[7]}\n"
	"for j = 8, #ARGV do a[#a + 1] = ARGV[j] end\n"
	"redis.call(unpack(a))\n"
	"if ARGV[6] ~= '' then redis.call('HSET', k, 'error', ARGV[6])\n"
	"else redis.call('HDEL', k, 'error') end\n"
	"redis.call('HINCRBY', STATS, ARGV[4] == '1' and 'total:passed' or 'total:failed', 1)\n"
	"set_state(id, 'running', 'done')\n"
	"redis.call('HSET', k, 'final_attempt', ARGV[3])\n"
	"emit(id, 'done', {'passed', ARGV[4], 'summary', ARGV[7]})\n"
	"finalize(id)\n"
	"return {'ok'}\n"};

const lr_script lr_lua_fail = {"fail", LUA_PRELUDE
	"-- ARGV: P, id, attempt, mode (retry|release|dead), reason, rnd (0..1).\n"
	"-- {outcome} (retry, queued, dead) or {'stale', state, attempt}.\n"
	"local id = ARGV[2]\n"
	"local st = fence(id, ARGV[3])\n"
	"if st then return st end\n"
	"if ARGV[4] == 'dead' then\n"
	"  dead_letter(id, 'running', ARGV[5])\n"
	"  return {'dead'}\n"
	"end\n"
	"return {retry_or_dead(id, 'running', ARGV[5], ARGV[4] == 'release' and 0 or 1,\n"
	"  tonumber(ARGV[6]) or 0.5)}\n"};

const lr_script lr_lua_reclaim = {"reclaim", LUA_PRELUDE
	"-- Jobs whose worker stopped renewing its lease. ARGV: P, limit, rnd.\n"
	"-- Returns the number reclaimed.\n"
	"local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', I(NOW), 'LIMIT', 0,\n"
	"  tonumber(ARGV[2]))\n"
	"local rnd = tonumber(ARGV[3]) or 0.5\n"
	"local n = 0\n"
	"for i, id in ipairs(ids) do\n"
	"  local h = redis.call('HMGET', jkey(id), 'state', 'lease_until', 'worker', 'attempt')\n"
	"  local lease = tonumber(h[2])\n"
	"  if h[1] ~= 'running' then\n"
	"    redis.call('ZREM', P .. 'leases', id)\n"
	"  elseif lease and lease > NOW then\n"
	"    redis.call('ZADD', P .. 'leases', h[2], id)\n"
	"  else\n"
	"    n = n + 1\n"
	"    redis.call('HINCRBY', STATS, 'total:reclaimed', 1)\n"
	"    emit(id, 'lease_expired', {'worker', h[3] or ''})\n"
	"    retry_or_dead(id, 'running', 'worker ' .. (h[3] or '?') ..\n"
	"      ' stopped renewing its lease during attempt ' .. (h[4] or '?'), 1, (rnd + i * 0.618) % 1)\n"
	"  end\n"
	"end\n"
	"return n\n"};

const lr_script lr_lua_promote = {"promote", LUA_PRELUDE
	"-- Jobs whose retry is due go back in line. ARGV: P, limit.\n"
	"local ids = redis.call('ZRANGEBYSCORE', P .. 'delayed', '-inf', I(NOW), 'LIMIT', 0,\n"
	"  tonumber(ARGV[2]))\n"
	"local n = 0\n"
	"for _, id in ipairs(ids) do\n"
	"  redis.call('ZREM', P .. 'delayed', id)\n"
	"  if redis.call('HGET', jkey(id), 'state') == 'retry_wait' then\n"
	"    set_state(id, 'retry_wait', 'queued')\n"
	"    enqueue(id)\n"
	"    emit(id, 'queued', {})\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n"};

const lr_script lr_lua_orphans = {"orphans", LUA_PRELUDE
	"-- Work-stream entries pending for long (ARGV: P, entry ids...): delivered to a\n"
	"-- consumer that never claimed them, or left over. Returns the number fixed.\n"
	"local n = 0\n"
	"for i = 2, #ARGV do\n"
	"  local e = ARGV[i]\n"
	"  local r = redis.call('XRANGE', JOBS, e, e)\n"
	"  local id = nil\n"
	"  if r[1] then\n"
	"    local f = r[1][2]\n"
	"    for j = 1, #f, 2 do if f[j] == 'job' then id = f[j + 1] end end\n"
	"  end\n"
	"  local h = id and redis.call('HMGET', jkey(id), 'state', 'entry') or {}\n"
	"  if not h[1] or h[2] ~= e then\n"
	"    redis.call('XACK', JOBS, 'workers', e)\n"
	"    redis.call('XDEL', JOBS, e)\n"
	"    n = n + 1\n"
	"  elseif h[1] == 'queued' then\n"
	"    redis.call('XACK', JOBS, 'workers', e)\n"
	"    redis.call('XDEL', JOBS, e)\n"
	"    enqueue(id)\n"
	"    emit(id, 'redelivered', {})\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"return n\n"};

const lr_script lr_lua_cancel = {"cancel", LUA_PRELUDE
	"-- ARGV: P, id, by. {'cancelled', previous state}, {'final', state} or {'missing'}.\n"
	"-- A running job ends at once: its worker's next fenced write is refused.\n"
	"local id = ARGV[2]\n"
	"local k = jkey(id)\n"
	"local st = redis.call('HGET', k, 'state')\n"
	"if not st then return {'missing'} end\n"
	"if FINAL[st] then return {'final', st} end\n"
	"redis.call('HSET', k, 'cancel', '1')\n"
	"to_final(id, st, 'cancelled', 'cancelled by ' .. ARGV[3])\n"
	"return {'cancelled', st}\n"};

const lr_script lr_lua_heartbeat = {"heartbeat", LUA_PRELUDE
	"-- ARGV: P, worker, ttl_ms, then field/value pairs describing the worker.\n"
	"redis.call('ZADD', P .. 'workers', I(NOW), ARGV[2])\n"
	"local k = P .. 'worker:' .. ARGV[2]\n"
	"local a = {'HSET', k, 'seen', I(NOW)}\n"
	"for j = 4, #ARGV do a[#a + 1] = ARGV[j] end\n"
	"redis.call(unpack(a))\n"
	"redis.call('PEXPIRE', k, ARGV[3])\n"
	"return 1\n"};

const lr_script lr_lua_gc = {"gc", LUA_PRELUDE
	"-- Housekeeping. ARGV: P, consumer_idle_ms, worker_gone_ms.\n"
	"-- Forgets workers silent for worker_gone_ms and consumers that have nothing\n"
	"-- pending and were idle for consumer_idle_ms. Returns {workers, consumers}.\n"
	"local w = redis.call('ZREMRANGEBYSCORE', P .. 'workers', '-inf', I(NOW - tonumber(ARGV[3])))\n"
	"local c = 0\n"
	"local groups = {{JOBS, 'workers'}, {REQS, 'dispatchers'}, {P .. 'control', 'dispatchers'}}\n"
	"for _, g in ipairs(groups) do\n"
	"  if redis.call('EXISTS', g[1]) == 1 then\n"
	"    local r = redis.pcall('XINFO', 'CONSUMERS', g[1], g[2])\n"
	"    if type(r) == 'table' and not r.err then\n"
	"      for _, cons in ipairs(r) do\n"
	"        local m = {}\n"
	"        for j = 1, #cons, 2 do m[cons[j]] = cons[j + 1] end\n"
	"        if tonumber(m['pending']) == 0 and tonumber(m['idle']) > tonumber(ARGV[2]) then\n"
	"          redis.call('XGROUP', 'DELCONSUMER', g[1], g[2], m['name'])\n"
	"          c = c + 1\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return {w, c}\n"};

const lr_script lr_lua_retain = {"retain", "#!lua flags=allow-oom\n" LUA_PRELUDE
	"-- Retention by size: forget finished jobs (oldest first) while their\n"
	"-- bytes exceed ARGV[2]; drop entries whose keys already expired. Runs even\n"
	"-- when Redis is out of memory (it only frees). ARGV: P, max_bytes (0: no\n"
	"-- limit), limit. Returns {evicted, expired, finished_bytes}.\n"
	"local max, limit = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local F = P .. 'finished'\n"
	"local total = tonumber(redis.call('HGET', STATS, 'finished_bytes')) or 0\n"
	"local evicted, expired = 0, 0\n"
	"for _ = 1, limit do\n"
	"  local head = redis.call('ZRANGE', F, 0, 0)[1]\n"
	"  if not head then total = 0; break end\n"
	"  local id, b = string.match(head, '^(%S+) (%d+)$')\n"
	"  b = tonumber(b) or 0\n"
	"  local st = id and redis.call('HGET', jkey(id), 'state')\n"
	"  if not st then\n"
	"    expired = expired + 1\n"
	"  elseif max > 0 and total > max and FINAL[st] then\n"
	"    redis.call('DEL', unpack(job_keys(id)))\n"
	"    evicted = evicted + 1\n"
	"  else\n"
	"    break\n"
	"  end\n"
	"  redis.call('ZREM', F, head)\n"
	"  total = total - b\n"
	"end\n"
	"if total < 0 then total = 0 end\n"
	"redis.call('HSET', STATS, 'finished_bytes', I(total))\n"
	"if evicted > 0 then redis.call('HINCRBY', STATS, 'total:evicted', evicted) end\n"
	"return {evicted, expired, total}\n"};

const lr_script lr_lua_cb_take = {"cb_take", LUA_PRELUDE
	"-- Due callbacks. ARGV: P, lease_ms, limit. Each taken one is moved a lease\n"
	"-- ahead (redelivered if this dispatcher dies) and its attempt counted.\n"
	"-- Returns {{id, attempt, url, state, passed, error, summary, result}, ...}.\n"
	"local CB = P .. 'callbacks'\n"
	"local ids = redis.call('ZRANGEBYSCORE', CB, '-inf', I(NOW), 'LIMIT', 0, tonumber(ARGV[3]))\n"
	"local out = {}\n"
	"for _, id in ipairs(ids) do\n"
	"  local k = jkey(id)\n"
	"  local h = redis.call('HMGET', k, 'callback', 'state', 'passed', 'error', 'summary', 'result')\n"
	"  if not h[1] then\n"
	"    redis.call('ZREM', CB, id)\n"
	"  else\n"
	"    redis.call('ZADD', CB, I(NOW + tonumber(ARGV[2])), id)\n"
	"    local a = redis.call('HINCRBY', k, 'callback_attempts', 1)\n"
	"    out[#out + 1] = {id, I(a), h[1], h[2] or '', h[3] or '', h[4] or '', h[5] or '',\n"
	"      h[6] or ''}\n"
	"  end\n"
	"end\n"
	"return out\n"};

const lr_script lr_lua_cb_report = {"cb_report", LUA_PRELUDE
	"-- One attempt's outcome. ARGV: P, id, attempt, outcome (delivered|retry|\n"
	"-- failed), status, detail, retry_in_ms. The event is always recorded; the\n"
	"-- schedule changes only if no later attempt was taken meanwhile.\n"
	"local id = ARGV[2]\n"
	"local k = jkey(id)\n"
	"local CB = P .. 'callbacks'\n"
	"if redis.call('EXISTS', k) == 0 then redis.call('ZREM', CB, id); return 'gone' end\n"
	"local ev = {'callback_attempt', ARGV[3], 'outcome', ARGV[4], 'status', ARGV[5]}\n"
	"if ARGV[6] ~= '' then ev[#ev + 1] = 'detail'; ev[#ev + 1] = ARGV[6] end\n"
	"if ARGV[4] == 'retry' then ev[#ev + 1] = 'retry_in_ms'; ev[#ev + 1] = ARGV[7] end\n"
	"emit(id, 'callback', ev)\n"
	"if redis.call('HGET', k, 'callback_attempts') ~= ARGV[3] then return 'stale' end\n"
	"if ARGV[4] == 'retry' then\n"
	"  redis.call('ZADD', CB, I(NOW + tonumber(ARGV[7])), id)\n"
	"else\n"
	"  redis.call('ZREM', CB, id)\n"
	"  redis.call('HSET', k, 'callback_state', ARGV[4])\n"
	"  redis.call('HINCRBY', STATS, 'total:callbacks_' .. ARGV[4], 1)\n"
	"end\n"
	"return 'ok'\n"};

/* clang-format on */
