/* queue_lua.c - the Lua scripts behind every state change of a job.
 *
 * Each script is the shared prelude (helpers: the clock, validation,
 * counters, events, expiry, retry, burial and the fence) followed by its body
 * and the epilogue that runs it. Keys are built from the prefix in ARGV[1]
 * (see keys.h), which Redis allows outside cluster mode.
 *
 * Redis does not roll a script back, so every script reads and validates
 * everything it will touch before its first write: the types of the keys,
 * every number it will use (a field someone set to "abc" or to 10^7), the
 * entry ids it will acknowledge. A script then either applies whole or
 * changes nothing and answers `LLMREPL data: <what is wrong>`. A job whose own
 * keys are broken is not a reason to fail: it is buried (dead-lettered with
 * the reason, its indexes cleaned, its keys set to expire) and the script goes
 * on with the others. Work never grows with a value a user can set: the
 * iteration keys of a job are listed in the set `job:<id>:its`, bounded. */
#include "queue_lua.h"

#include "fence_lua.h"

/* clang-format off */
#define LUA_PRELUDE \
	"-- Shared by every script. ARGV[1] is the key prefix.\n" \
	"local P = ARGV[1]\n" \
	"local STATS, JOBS, REQS = P .. 'stats', P .. 'jobs', P .. 'requests'\n" \
	"local LEASES, DELAYED, DEAD = P .. 'leases', P .. 'delayed', P .. 'dead'\n" \
	"local WORKERS, CTL = P .. 'workers', P .. 'control'\n" \
	"local FINISHED, CALLBACKS = P .. 'finished', P .. 'callbacks'\n" \
	"local t_ = redis.call('TIME')\n" \
	"local NOW = tonumber(t_[1]) * 1000 + math.floor(tonumber(t_[2]) / 1000)\n" \
	"local LIVE = {queued = true, running = true, retry_wait = true}\n" \
	"local FINAL = {done = true, cancelled = true, rejected = true, dead = true}\n" \
	"local ITER_MAX = 10000 -- highest iteration number\n" \
	"local AUX_MAX = 64     -- auxiliary keys per job\n" \
	"local function I(x) return string.format('%d', x) end\n" \
	"local function jkey(id) return P .. 'job:' .. id end\n" \
	"-- A value for a message: quoted, cut, control bytes (NUL too) as \\xHH.\n" \
	"local function show(v)\n" \
	"  v = tostring(v)\n" \
	"  if #v > 40 then v = string.sub(v, 1, 40) .. '...' end\n" \
	"  v = string.gsub(v, '[%z\\1-\\31\\127]', function(c) return string.format('\\\\x%02x', string.byte(c)) end)\n" \
	"  return \"'\" .. v .. \"'\"\n" \
	"end\n" \
	"-- Refuse before anything was written; the epilogue turns this into an error reply.\n" \
	"local function bad(msg) error({err = 'LLMREPL data: ' .. msg}) end\n" \
	"local function ktype(key) return redis.call('TYPE', key)['ok'] end\n" \
	"local function type_err(key, want)\n" \
	"  local t = ktype(key)\n" \
	"  if t ~= want and t ~= 'none' then return 'key ' .. key .. ' is a ' .. t .. ', not a ' .. want end\n" \
	"end\n" \
	"local function need(key, want) local e = type_err(key, want) if e then bad(e) end end\n" \
	"-- A decimal integer in [lo, hi], or nil.\n" \
	"local function int(v, lo, hi)\n" \
	"  if type(v) ~= 'string' or #v > 18 or not string.match(v, '^%-?%d+$') then return nil end\n" \
	"  local n = tonumber(v)\n" \
	"  if n < lo or n > hi then return nil end\n" \
	"  return n\n" \
	"end\n" \
	"local function arg_int(i, lo, hi, what)\n" \
	"  local n = int(ARGV[i], lo, hi)\n" \
	"  if not n then bad(what .. ' must be an integer in ' .. I(lo) .. '..' .. I(hi) .. ', got ' .. show(ARGV[i])) end\n" \
	"  return n\n" \
	"end\n" \
	"-- A stream entry id (the job ids are ones).\n" \
	"local function valid_id(id)\n" \
	"  local a, b = string.match(id or '', '^(%d+)%-(%d+)$')\n" \
	"  return a ~= nil and #a <= 19 and #b <= 19\n" \
	"end\n" \
	"-- The kinds of job.h (lr_job_kind): change both together.\n" \
	"local KIND_LIST = {'evaluate', 'generate', 'refactor', 'loop', 'session_open', 'exec',\n" \
	"  'session_close', 'batch'}\n" \
	"local KINDS = {}\n" \
	"for _, kd in ipairs(KIND_LIST) do KINDS[kd] = true end\n" \
	"local COUNTERS = {'queued', 'running', 'retry_wait', 'total:done', 'total:cancelled',\n" \
	"  'total:rejected', 'total:dead', 'total:passed', 'total:failed', 'total:submitted',\n" \
	"  'total:retries', 'total:reclaimed', 'total:stale_writes', 'total:evicted',\n" \
	"  'total:callbacks_delivered', 'total:callbacks_failed', 'finished_bytes'}\n" \
	"-- total:<final state>:<kind>, for the kinds there are (and 'none').\n" \
	"for _, s in ipairs({'done', 'cancelled', 'rejected', 'dead'}) do\n" \
	"  for _, kd in ipairs(KIND_LIST) do COUNTERS[#COUNTERS + 1] = 'total:' .. s .. ':' .. kd end\n" \
	"  COUNTERS[#COUNTERS + 1] = 'total:' .. s .. ':none'\n" \
	"end\n" \
	"local function kind_of(j) return KINDS[j.kind or ''] and j.kind or 'none' end\n" \
	"-- The shared keys a job's scripts may write: of their type, counters numbers.\n" \
	"local function check_globals()\n" \
	"  for _, kt in ipairs({{STATS, 'hash'}, {JOBS, 'stream'}, {LEASES, 'zset'},\n" \
	"      {DELAYED, 'zset'}, {DEAD, 'stream'}, {FINISHED, 'zset'}, {CALLBACKS, 'zset'}}) do\n" \
	"    need(kt[1], kt[2])\n" \
	"  end\n" \
	"  local v = redis.call('HMGET', STATS, unpack(COUNTERS))\n" \
	"  for i = 1, #COUNTERS do\n" \
	"    if v[i] and not int(v[i], -1e15, 1e15) then\n" \
	"      bad('counter ' .. COUNTERS[i] .. ' of ' .. STATS .. ' is ' .. show(v[i]) .. ', not an integer')\n" \
	"    end\n" \
	"  end\n" \
	"end\n" \
	"-- The job hash fields scripts read, with the bounds of the numeric ones and\n" \
	"-- the value a missing one means.\n" \
	"local JF = {'state', 'attempt', 'entry', 'failures', 'max_attempts', 'backoff_ms',\n" \
	"  'backoff_max_ms', 'ttl', 'events_max', 'iterations', 'aux', 'final_attempt', 'worker',\n" \
	"  'lease_until', 'kind'}\n" \
	"local NUM = {{'attempt', 0, 1e9, 0}, {'failures', 0, 1e9, 0}, {'max_attempts', 1, 1e6, 3},\n" \
	"  {'backoff_ms', 0, 1e10, 1000}, {'backoff_max_ms', 0, 1e10, 60000}, {'ttl', 1, 1e10, 86400},\n" \
	"  {'events_max', 1, 1e7, 1000}, {'iterations', 0, ITER_MAX, -1}, {'final_attempt', 0, 1e9, 0},\n" \
	"  {'lease_until', 0, 1e15, 0}}\n" \
	"local function aux_list(aux)\n" \
	"  local out = {}\n" \
	"  for s in string.gmatch(aux or '', '%S+') do out[#out + 1] = s end\n" \
	"  return out\n" \
	"end\n" \
	"local function check_job(j)\n" \
	"  if not j.state then return \"it has no field 'state'\" end\n" \
	"  if not LIVE[j.state] and not FINAL[j.state] then return 'its state ' .. show(j.state) .. ' is not a state' end\n" \
	"  for _, r in ipairs(NUM) do\n" \
	"    local v = j[r[1]]\n" \
	"    if v and v ~= '' then\n" \
	"      local n = int(v, r[2], r[3])\n" \
	"      if not n then\n" \
	"        return \"field '\" .. r[1] .. \"' is \" .. show(v) .. ', not an integer in ' .. I(r[2]) .. '..' .. I(r[3])\n" \
	"      end\n" \
	"      j.n[r[1]] = n\n" \
	"    elseif v == '' and r[1] ~= 'lease_until' and r[1] ~= 'final_attempt' then\n" \
	"      return \"field '\" .. r[1] .. \"' is empty\"\n" \
	"    end\n" \
	"  end\n" \
	"  if j.entry and j.entry ~= '' and not valid_id(j.entry) then\n" \
	"    return \"field 'entry' is \" .. show(j.entry) .. ', not a stream entry id'\n" \
	"  end\n" \
	"  if j.aux then\n" \
	"    local a = aux_list(j.aux)\n" \
	"    if #j.aux > 4096 or #a > AUX_MAX then return \"field 'aux' lists over \" .. AUX_MAX .. ' keys' end\n" \
	"    for _, s in ipairs(a) do\n" \
	"      if not string.match(s, '^[%w:_%-]+$') then return \"field 'aux' holds \" .. show(s) .. ', not a key suffix' end\n" \
	"    end\n" \
	"  end\n" \
	"  local e = type_err(j.k .. ':events', 'stream') or type_err(j.k .. ':its', 'set')\n" \
	"  if e then return e end\n" \
	"  local n = redis.call('SCARD', j.k .. ':its')\n" \
	"  if n > ITER_MAX + 1 then return 'key ' .. j.k .. ':its lists ' .. n .. ' iterations, over ' .. (ITER_MAX + 1) end\n" \
	"  return nil\n" \
	"end\n" \
	"-- Read and validate a job: nil when it does not exist; else a table with its\n" \
	"-- fields, the numbers in j.n and j.broken saying why it cannot be used.\n" \
	"local function read_job(id)\n" \
	"  if not valid_id(id) then return nil end\n" \
	"  local k = jkey(id)\n" \
	"  local t = ktype(k)\n" \
	"  if t == 'none' then return nil end\n" \
	"  local j = {id = id, k = k, hash = (t == 'hash'), n = {}}\n" \
	"  for _, r in ipairs(NUM) do j.n[r[1]] = r[4] end\n" \
	"  if not j.hash then\n" \
	"    j.broken = 'job ' .. id .. ': its key is a ' .. t .. ', not a hash'\n" \
	"    return j\n" \
	"  end\n" \
	"  local h = redis.call('HMGET', k, unpack(JF))\n" \
	"  for i, f in ipairs(JF) do if h[i] then j[f] = h[i] end end\n" \
	"  local why = check_job(j)\n" \
	"  if why then j.broken = 'job ' .. id .. ': ' .. why end\n" \
	"  return j\n" \
	"end\n" \
	"-- A broken job that is not final yet must be buried.\n" \
	"local function buriable(j) return j and j.broken and not FINAL[j.state] end\n" \
	"local function ack_entry(e)\n" \
	"  if valid_id(e) then\n" \
	"    redis.call('XACK', JOBS, 'workers', e)\n" \
	"    redis.call('XDEL', JOBS, e)\n" \
	"  end\n" \
	"end\n" \
	"-- Every key of a job: the hash, the events, the iterations (listed in :its;\n" \
	"-- a job recorded before :its existed has only `iterations`) and the\n" \
	"-- auxiliary keys.\n" \
	"local function job_keys(j)\n" \
	"  local k = j.k\n" \
	"  local keys = {k, k .. ':events', k .. ':its'}\n" \
	"  if ktype(k .. ':its') == 'set' then\n" \
	"    if redis.call('SCARD', k .. ':its') <= ITER_MAX + 1 then\n" \
	"      for _, n in ipairs(redis.call('SMEMBERS', k .. ':its')) do\n" \
	"        if int(n, 0, ITER_MAX) then keys[#keys + 1] = k .. ':it:' .. n end\n" \
	"      end\n" \
	"    end\n" \
	"  elseif j.n.iterations >= 0 then\n" \
	"    for i = 0, j.n.iterations do keys[#keys + 1] = k .. ':it:' .. i end\n" \
	"  end\n" \
	"  if not j.broken then\n" \
	"    for _, s in ipairs(aux_list(j.aux)) do keys[#keys + 1] = k .. ':' .. s end\n" \
	"  end\n" \
	"  return keys\n" \
	"end\n" \
	"-- ... all of which expire together. Returns them.\n" \
	"local function expire_all(j, ttl)\n" \
	"  local keys = job_keys(j)\n" \
	"  for _, key in ipairs(keys) do redis.call('EXPIRE', key, ttl) end\n" \
	"  return keys\n" \
	"end\n" \
	"-- Dead-letter a job whose keys are broken, touching only what is sound.\n" \
	"local function bury(j, reason, entry)\n" \
	"  local id, k = j.id, j.k\n" \
	"  -- A job whose state was lost counts where its indexes say it was.\n" \
	"  local was = j.state\n" \
	"  if not LIVE[was] and not FINAL[was] then\n" \
	"    if redis.call('ZSCORE', LEASES, id) then was = 'running'\n" \
	"    elseif redis.call('ZSCORE', DELAYED, id) then was = 'retry_wait'\n" \
	"    elseif valid_id(entry) then was = 'queued'\n" \
	"    elseif valid_id(j.entry) and #redis.call('XRANGE', JOBS, j.entry, j.entry) > 0 then\n" \
	"      was = 'queued'\n" \
	"    end\n" \
	"  end\n" \
	"  if LIVE[was] then redis.call('HINCRBY', STATS, was, -1) end\n" \
	"  redis.call('ZREM', LEASES, id)\n" \
	"  redis.call('ZREM', DELAYED, id)\n" \
	"  ack_entry(entry)\n" \
	"  if j.entry ~= entry then ack_entry(j.entry) end\n" \
	"  redis.call('XADD', DEAD, 'MAXLEN', '~', '10000', '*', 'job', id, 'error', reason,\n" \
	"    'attempt', I(j.n.attempt), 'at', I(NOW))\n" \
	"  redis.call('HINCRBY', STATS, 'total:dead', 1)\n" \
	"  redis.call('HINCRBY', STATS, 'total:dead:' .. kind_of(j), 1)\n" \
	"  if j.hash then\n" \
	"    redis.call('HSET', k, 'state', 'dead', 'error', reason, 'updated', I(NOW), 'finished', I(NOW),\n" \
	"      'final_attempt', I(j.n.attempt), 'lease_until', '', 'entry', '')\n" \
	"    if not type_err(k .. ':events', 'stream') then\n" \
	"      redis.call('XADD', k .. ':events', 'MAXLEN', '~', I(j.n.events_max), '*', 'type', 'dead',\n" \
	"        'state', 'dead', 'attempt', I(j.n.attempt), 'at', I(NOW), 'error', reason)\n" \
	"    end\n" \
	"    expire_all(j, j.n.ttl)\n" \
	"  elseif redis.call('TTL', k) == -1 then\n" \
	"    redis.call('EXPIRE', k, 86400)\n" \
	"  end\n" \
	"  j.state = 'dead'\n" \
	"end\n" \
	"-- Append an event; state and attempt are the job's as they are now.\n" \
	"local function emit(j, typ, extra)\n" \
	"  local a = {'XADD', j.k .. ':events', 'MAXLEN', '~', I(j.n.events_max), '*', 'type', typ,\n" \
	"    'state', j.state or '', 'attempt', I(j.n.attempt), 'at', I(NOW)}\n" \
	"  for i = 1, #extra do a[#a + 1] = extra[i] end\n" \
	"  redis.call(unpack(a))\n" \
	"end\n" \
	"-- Every state change goes through here so the counters stay right:\n" \
	"-- live states count jobs now in them, final states count jobs ever.\n" \
	"local function set_state(j, new)\n" \
	"  local old = j.state\n" \
	"  if old == new then return end\n" \
	"  if LIVE[old] then redis.call('HINCRBY', STATS, old, -1) end\n" \
	"  if LIVE[new] then redis.call('HINCRBY', STATS, new, 1)\n" \
	"  else\n" \
	"    redis.call('HINCRBY', STATS, 'total:' .. new, 1)\n" \
	"    redis.call('HINCRBY', STATS, 'total:' .. new .. ':' .. kind_of(j), 1)\n" \
	"  end\n" \
	"  redis.call('HSET', j.k, 'state', new, 'updated', I(NOW))\n" \
	"  j.state = new\n" \
	"end\n" \
	"-- Acknowledge and delete the job's entry in the work stream, if it has one.\n" \
	"-- (XDEL alone would leave it in the pending list.)\n" \
	"local function drop_entry(j)\n" \
	"  if j.entry and j.entry ~= '' then\n" \
	"    ack_entry(j.entry)\n" \
	"    redis.call('HSET', j.k, 'entry', '')\n" \
	"    j.entry = ''\n" \
	"  end\n" \
	"end\n" \
	"local function enqueue(j)\n" \
	"  local e = redis.call('XADD', JOBS, '*', 'job', j.id)\n" \
	"  redis.call('HSET', j.k, 'entry', e)\n" \
	"  j.entry = e\n" \
	"end\n" \
	"-- A final job's events, compacted: trimmed to exactly events_max (appends\n" \
	"-- trim only about, whole nodes), then rewritten (DUMP, RESTORE) so the\n" \
	"-- last node holds what it has and not the space Redis set aside for more\n" \
	"-- (up to stream-node-max-bytes, 4 KiB by default: most of a small job).\n" \
	"-- Trimming inside a node only marks entries deleted, so a trimmed stream\n" \
	"-- is first written again from what it keeps, same ids and counters.\n" \
	"-- Readers see the same entries; later appends (callback events) grow it\n" \
	"-- as needed. Before expire_all: RESTORE sets no TTL.\n" \
	"local function compact_events(j)\n" \
	"  local ev = j.k .. ':events'\n" \
	"  if ktype(ev) ~= 'stream' then return end\n" \
	"  if redis.call('XTRIM', ev, 'MAXLEN', I(j.n.events_max)) > 0 then\n" \
	"    local info, at = redis.call('XINFO', 'STREAM', ev), {}\n" \
	"    for i = 1, #info - 1, 2 do at[info[i]] = info[i + 1] end\n" \
	"    local es = redis.call('XRANGE', ev, '-', '+')\n" \
	"    redis.call('DEL', ev)\n" \
	"    for _, e in ipairs(es) do redis.call('XADD', ev, e[1], unpack(e[2])) end\n" \
	"    redis.call('XSETID', ev, at['last-generated-id'], 'ENTRIESADDED', at['entries-added'],\n" \
	"      'MAXDELETEDID', at['max-deleted-entry-id'])\n" \
	"  end\n" \
	"  redis.call('RESTORE', ev, 0, redis.call('DUMP', ev), 'REPLACE')\n" \
	"end\n" \
	"-- A final job leaves every index and all its keys expire together. A\n" \
	"-- callback_url in its (validated) spec puts it in the callback outbox. Its\n" \
	"-- size joins FINISHED (member '<id> <bytes>', by when it ended), which\n" \
	"-- retention by size trims oldest first. MEMORY USAGE counts every field\n" \
	"-- (SAMPLES 0): from its default sample of five, one big spec among 30\n" \
	"-- small fields would count six times over.\n" \
	"local function finalize(j)\n" \
	"  compact_events(j)\n" \
	"  drop_entry(j)\n" \
	"  redis.call('ZREM', LEASES, j.id)\n" \
	"  redis.call('ZREM', DELAYED, j.id)\n" \
	"  redis.call('HSET', j.k, 'finished', I(NOW), 'lease_until', '')\n" \
	"  if j.state ~= 'rejected' then\n" \
	"    local spec = redis.call('HGET', j.k, 'spec')\n" \
	"    if spec and string.find(spec, '\"callback_url\"', 1, true) then\n" \
	"      local ok, t = pcall(cjson.decode, spec)\n" \
	"      if ok and type(t) == 'table' and type(t.callback_url) == 'string' then\n" \
	"        redis.call('HSET', j.k, 'callback', t.callback_url, 'callback_state', 'pending')\n" \
	"        redis.call('ZADD', CALLBACKS, I(NOW), j.id)\n" \
	"      end\n" \
	"    end\n" \
	"  end\n" \
	"  local bytes = 0\n" \
	"  for _, key in ipairs(expire_all(j, j.n.ttl)) do\n" \
	"    bytes = bytes + (redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') or 0)\n" \
	"  end\n" \
	"  redis.call('ZADD', FINISHED, I(NOW), j.id .. ' ' .. I(bytes))\n" \
	"  redis.call('HINCRBY', STATS, 'finished_bytes', bytes)\n" \
	"end\n" \
	"local function to_final(j, state, reason)\n" \
	"  set_state(j, state)\n" \
	"  redis.call('HSET', j.k, 'final_attempt', I(j.n.attempt))\n" \
	"  local ev = {}\n" \
	"  if reason then\n" \
	"    redis.call('HSET', j.k, 'error', reason)\n" \
	"    ev = {'error', reason}\n" \
	"  end\n" \
	"  emit(j, state, ev)\n" \
	"  finalize(j)\n" \
	"end\n" \
	"local function dead_letter(j, reason)\n" \
	"  redis.call('XADD', DEAD, 'MAXLEN', '~', '10000', '*', 'job', j.id, 'error', reason,\n" \
	"    'attempt', I(j.n.attempt), 'at', I(NOW))\n" \
	"  to_final(j, 'dead', reason)\n" \
	"end\n" \
	"-- A run that did not finish: back in line (count 0: released, not a\n" \
	"-- failure), later with backoff, or dead once it failed max_attempts times.\n" \
	"local function retry_or_dead(j, reason, count, rnd)\n" \
	"  local failures = j.n.failures + count\n" \
	"  redis.call('HSET', j.k, 'failures', I(failures), 'last_failure', reason, 'worker', '',\n" \
	"    'lease_until', '')\n" \
	"  drop_entry(j)\n" \
	"  redis.call('ZREM', LEASES, j.id)\n" \
	"  if count == 0 then\n" \
	"    set_state(j, 'queued')\n" \
	"    enqueue(j)\n" \
	"    emit(j, 'released', {'reason', reason})\n" \
	"    return 'queued'\n" \
	"  end\n" \
	"  if failures >= j.n.max_attempts then\n" \
	"    dead_letter(j, reason .. '; gave up after ' .. failures .. ' failed attempts')\n" \
	"    return 'dead'\n" \
	"  end\n" \
	"  local delay = math.floor(math.min(j.n.backoff_max_ms, j.n.backoff_ms * 2 ^ (failures - 1))\n" \
	"    * (0.8 + 0.4 * rnd))\n" \
	"  redis.call('ZADD', DELAYED, I(NOW + delay), j.id)\n" \
	"  redis.call('HSET', j.k, 'retry_at', I(NOW + delay))\n" \
	"  set_state(j, 'retry_wait')\n" \
	"  redis.call('HINCRBY', STATS, 'total:retries', 1)\n" \
	"  emit(j, 'retry', {'reason', reason, 'retry_in_ms', I(delay)})\n" \
	"  return 'retry'\n" \
	"end\n" \
	LR_LUA_FENCE \
	"-- For the scripts a worker runs on its attempt: bury a broken job, then the\n" \
	"-- fence (the job is running that attempt). nil when the write may go on.\n" \
	"local function fence(id, j, attempt)\n" \
	"  if buriable(j) then\n" \
	"    bury(j, j.broken)\n" \
	"    return {'stale', 'dead', I(j.n.attempt), j.broken}\n" \
	"  end\n" \
	"  return lr_fence(jkey(id), STATS, attempt)\n" \
	"end\n" \
	"local function policy(first)\n" \
	"  return {arg_int(first, 1, 1e10, 'ttl'), arg_int(first + 1, 1, 1e6, 'max_attempts'),\n" \
	"    arg_int(first + 2, 0, 1e10, 'backoff_ms'), arg_int(first + 3, 0, 1e10, 'backoff_max_ms'),\n" \
	"    arg_int(first + 4, 1, 1e7, 'events_max')}\n" \
	"end\n" \
	"-- Record a request as a job (intake and take share it). The job key does not\n" \
	"-- exist; leftovers of its sub-keys of the wrong type go.\n" \
	"local function record(id, state, kind, spec, err, notes, bytes, pol)\n" \
	"  local k = jkey(id)\n" \
	"  for _, kt in ipairs({{k .. ':events', 'stream'}, {k .. ':its', 'set'}}) do\n" \
	"    if type_err(kt[1], kt[2]) then redis.call('DEL', kt[1]) end\n" \
	"  end\n" \
	"  redis.call('HSET', k, 'id', id, 'kind', kind, 'spec', spec, 'spec_bytes', bytes,\n" \
	"    'submitted', string.match(id, '^(%d+)-') or '', 'created', I(NOW), 'attempt', '0',\n" \
	"    'failures', '0', 'ttl', I(pol[1]), 'max_attempts', I(pol[2]), 'backoff_ms', I(pol[3]),\n" \
	"    'backoff_max_ms', I(pol[4]), 'events_max', I(pol[5]))\n" \
	"  if notes ~= '' then redis.call('HSET', k, 'notes', notes) end\n" \
	"  -- The request's owner (set by the HTTP API: the token's name) stays with the job.\n" \
	"  local e = redis.call('XRANGE', REQS, id, id)[1]\n" \
	"  for i = 1, e and #e[2] or 0, 2 do\n" \
	"    if e[2][i] == 'owner' then redis.call('HSET', k, 'owner', e[2][i + 1]) end\n" \
	"  end\n" \
	"  redis.call('HINCRBY', STATS, 'total:submitted', 1)\n" \
	"  local j = {id = id, k = k, hash = true, kind = kind, n = {attempt = 0, failures = 0, ttl = pol[1],\n" \
	"    max_attempts = pol[2], backoff_ms = pol[3], backoff_max_ms = pol[4], events_max = pol[5],\n" \
	"    iterations = -1}}\n" \
	"  if state == 'queued' then\n" \
	"    set_state(j, 'queued')\n" \
	"    enqueue(j)\n" \
	"    emit(j, 'queued', {})\n" \
	"  else\n" \
	"    to_final(j, 'rejected', err)\n" \
	"  end\n" \
	"end\n" \
	"local function ack_request(id)\n" \
	"  redis.call('XACK', REQS, 'dispatchers', id)\n" \
	"  redis.call('XDEL', REQS, id)\n" \
	"end\n" \
	"local function main()\n"

/* Runs the body; a refusal raised before any write becomes the error reply. */
#define LUA_EPILOGUE \
	"end\n" \
	"local ok, res = pcall(main)\n" \
	"if ok then return res end\n" \
	"if type(res) == 'table' and res.err then res = res.err end\n" \
	"return redis.error_reply(tostring(res))\n"

const lr_script lr_lua_intake = {"intake", LUA_PRELUDE
	"-- ARGV: P, id, state (queued|rejected), kind, spec, error, notes, spec_bytes,\n"
	"--       ttl, max_attempts, backoff_ms, backoff_max_ms, events_max\n"
	"local id = ARGV[2]\n"
	"if not valid_id(id) then bad('request id ' .. show(id) .. ' is not a stream entry id') end\n"
	"if ARGV[3] ~= 'queued' and ARGV[3] ~= 'rejected' then bad('state must be queued or rejected') end\n"
	"local pol = policy(9)\n"
	"local bytes = arg_int(8, 0, 1e12, 'spec_bytes')\n"
	"check_globals()\n"
	"need(REQS, 'stream')\n"
	"if redis.call('EXISTS', jkey(id)) == 1 then\n"
	"  ack_request(id)\n"
	"  return 'exists'\n"
	"end\n"
	"record(id, ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], I(bytes), pol)\n"
	"ack_request(id)\n"
	"return ARGV[3]\n"
	LUA_EPILOGUE};

const lr_script lr_lua_take = {"take", LUA_PRELUDE
	"-- Take requests for this dispatcher without sending malformed or oversized\n"
	"-- ones out of Redis: those are rejected here. ARGV: P, consumer, count,\n"
	"-- max_bytes, ttl, max_attempts, backoff_ms, backoff_max_ms, events_max, [ids...]\n"
	"-- (ids: entries this dispatcher claimed from a stopped one; else new ones).\n"
	"-- Returns {{id, spec, ...}, {rejected id, reason, ...}}: the first for the C\n"
	"-- side to validate, the second to log.\n"
	"local pol = policy(5)\n"
	"local count = arg_int(3, 1, 10000, 'count')\n"
	"local max = arg_int(4, 0, 1e12, 'max_bytes')\n"
	"check_globals()\n"
	"need(REQS, 'stream')\n"
	"local entries = {}\n"
	"if #ARGV > 9 then\n"
	"  for i = 10, #ARGV do\n"
	"    if valid_id(ARGV[i]) then\n"
	"      local r = redis.call('XRANGE', REQS, ARGV[i], ARGV[i])\n"
	"      if r[1] then entries[#entries + 1] = r[1]\n"
	"      else redis.call('XACK', REQS, 'dispatchers', ARGV[i]) end\n"
	"    end\n"
	"  end\n"
	"else\n"
	"  local r = redis.call('XREADGROUP', 'GROUP', 'dispatchers', ARGV[2], 'COUNT', I(count),\n"
	"    'STREAMS', REQS, '>')\n"
	"  if r and r[1] then entries = r[1][2] end\n"
	"end\n"
	"local out, rejected = {}, {}\n"
	"for _, e in ipairs(entries) do\n"
	"  local id, f = e[1], e[2]\n"
	"  local spec, names = nil, {}\n"
	"  for i = 1, #f, 2 do\n"
	"    if #names < 8 then names[#names + 1] = show(f[i]) end\n"
	"  end\n"
	"  -- One reading of an entry everywhere: exactly one field named spec, byte\n"
	"  -- for byte, and at most one owner (the HTTP API's); nothing else.\n"
	"  local why, nspec, nown, other = nil, 0, 0, 0\n"
	"  for i = 1, #f, 2 do\n"
	"    if f[i] == 'spec' then nspec = nspec + 1; spec = f[i + 1]\n"
	"    elseif f[i] == 'owner' then nown = nown + 1\n"
	"    else other = other + 1 end\n"
	"  end\n"
	"  if nspec ~= 1 or nown > 1 or other > 0 then\n"
	"    spec = nil\n"
	"    why = \"request must have exactly one field 'spec' (and at most one 'owner'); it has \" ..\n"
	"      (#f == 0 and 'none' or table.concat(names, ', '))\n"
	"  end\n"
	"  if spec and #spec > max then\n"
	"    why = 'spec is ' .. #spec .. ' bytes, over the limit of ' .. max .. ' bytes'\n"
	"  end\n"
	"  if redis.call('EXISTS', jkey(id)) == 1 then\n"
	"    ack_request(id)\n"
	"  elseif why then\n"
	"    record(id, 'rejected', '', '', why, '', I(spec and #spec or 0), pol)\n"
	"    ack_request(id)\n"
	"    rejected[#rejected + 1] = id\n"
	"    rejected[#rejected + 1] = why\n"
	"  else\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = spec\n"
	"  end\n"
	"end\n"
	"return {out, rejected}\n"
	LUA_EPILOGUE};

/* The claim of one job: the claim script and a finish that takes the next
 * job share it. */
#define LUA_CLAIM \
	"-- Claim job `id` for `worker` from its work-stream entry `entry` (a valid\n" \
	"-- stream id; the shared keys checked). Returns {'ok', attempt, spec, kind},\n" \
	"-- {'skip', why} (the entry is then acknowledged and deleted), {'routed', to}\n" \
	"-- (passed to the worker holding the job's session) or {'dead', reason} (the\n" \
	"-- job's keys were broken: it was buried). Never refuses: it writes.\n" \
	"local function claim_job(id, entry, worker, lease_ms, spec_max)\n" \
	"local function skip(why)\n" \
	"  ack_entry(entry)\n" \
	"  return {'skip', why}\n" \
	"end\n" \
	"local j = read_job(id)\n" \
	"if not j then return skip('gone') end\n" \
	"if buriable(j) and not j.hash and redis.call('TTL', j.k) ~= -1 then\n" \
	"  -- Buried already by the sweep, which could not tell it was queued.\n" \
	"  if (tonumber(redis.call('HGET', STATS, 'queued')) or 0) > 0 then\n" \
	"    redis.call('HINCRBY', STATS, 'queued', -1)\n" \
	"  end\n" \
	"  return skip('buried')\n" \
	"end\n" \
	"if buriable(j) then\n" \
	"  bury(j, j.broken, entry)\n" \
	"  return {'dead', j.broken}\n" \
	"end\n" \
	"if j.entry ~= entry then return skip('superseded') end\n" \
	"if j.state ~= 'queued' then return skip(j.state) end\n" \
	"-- Session affinity (docs/architecture.md, REPL sessions): a cell (or the\n" \
	"-- session's close) goes to the\n" \
	"-- worker holding its session (the session's `worker`) while that worker is\n" \
	"-- alive (its record exists) and idle, or when this one cannot hold another\n" \
	"-- session; a worker at its limit passes a session nobody holds to the live\n" \
	"-- worker with the most room. The entry moves to that worker's pending list\n" \
	"-- (XCLAIM) and a wake entry tells it; a job is routed once at most.\n" \
	"local function live(w)\n" \
	"  local k = P .. 'worker:' .. w\n" \
	"  if w == '' or ktype(k) ~= 'hash' then return nil end\n" \
	"  local v = redis.call('HMGET', k, 'job', 'sessions', 'sessions_max')\n" \
	"  local busy = false\n" \
	"  if v[1] and valid_id(v[1]) and ktype(jkey(v[1])) == 'hash' then\n" \
	"    local s = redis.call('HMGET', jkey(v[1]), 'state', 'worker')\n" \
	"    busy = s[1] == 'running' and s[2] == w\n" \
	"  end\n" \
	"  return {busy = busy, n = tonumber(v[2]) or 0, max = tonumber(v[3]) or 0}\n" \
	"end\n" \
	"local function route_to(me)\n" \
	"  if (j.kind ~= 'exec' and j.kind ~= 'session_close') or\n" \
	"     redis.call('HEXISTS', j.k, 'routed') == 1 then return nil end\n" \
	"  local ok, spec = pcall(cjson.decode, redis.call('HGET', j.k, 'spec') or '')\n" \
	"  if not ok or type(spec) ~= 'table' or type(spec.session) ~= 'string' then return nil end\n" \
	"  local sk = P .. 'session:' .. spec.session\n" \
	"  if ktype(sk) ~= 'hash' then return nil end\n" \
	"  local holder = redis.call('HGET', sk, 'worker') or ''\n" \
	"  if holder == me then return nil end\n" \
	"  local h, mine = live(holder), live(me)\n" \
	"  local full = mine and mine.max > 0 and mine.n >= mine.max\n" \
	"  if h and (not h.busy or full) then return holder end\n" \
	"  if not full then return nil end\n" \
	"  local best, room = nil, 0\n" \
	"  for _, w in ipairs(redis.call('ZRANGE', WORKERS, 0, 255)) do\n" \
	"    local r = w ~= me and live(w)\n" \
	"    if r and r.max > 0 and r.max - r.n > room then best, room = w, r.max - r.n end\n" \
	"  end\n" \
	"  return best\n" \
	"end\n" \
	"local to = route_to(worker)\n" \
	"if to then\n" \
	"  redis.call('XCLAIM', JOBS, 'workers', to, '0', entry, 'JUSTID')\n" \
	"  redis.call('HSET', j.k, 'routed', to)\n" \
	"  local wk = P .. 'wake:' .. to\n" \
	"  if ktype(wk) == 'stream' then\n" \
	"    redis.call('XADD', wk, 'MAXLEN', '~', '64', '*', 'job', id)\n" \
	"  end\n" \
	"  emit(j, 'routed', {'worker', to})\n" \
	"  return {'routed', to}\n" \
	"end\n" \
	"local why = nil\n" \
	"local len = redis.call('HSTRLEN', j.k, 'spec')\n" \
	"if len == 0 then why = \"job \" .. id .. \": it has no field 'spec'\"\n" \
	"elseif len > spec_max then\n" \
	"  why = 'job ' .. id .. ': its spec is ' .. len .. ' bytes, over the limit of ' .. spec_max .. ' bytes'\n" \
	"elseif not j.kind or #j.kind > 31 or not string.match(j.kind, '^[a-z_]+$') then\n" \
	"  why = \"job \" .. id .. \": field 'kind' is \" .. show(j.kind or '(missing)') .. ', not a job kind'\n" \
	"end\n" \
	"if why then\n" \
	"  bury(j, why, entry)\n" \
	"  return {'dead', why}\n" \
	"end\n" \
	"j.n.attempt = redis.call('HINCRBY', j.k, 'attempt', 1)\n" \
	"local lease = NOW + lease_ms\n" \
	"redis.call('HSET', j.k, 'worker', worker, 'lease_until', I(lease), 'started', I(NOW))\n" \
	"redis.call('ZADD', LEASES, I(lease), id)\n" \
	"set_state(j, 'running')\n" \
	"emit(j, 'running', {'worker', worker})\n" \
	"return {'ok', j.n.attempt, redis.call('HGET', j.k, 'spec'), j.kind}\n" \
	"end\n"

const lr_script lr_lua_claim = {"claim", LUA_PRELUDE
	LUA_CLAIM
	"-- ARGV: P, id, entry, worker, lease_ms, spec_max: claim_job's.\n"
	"local lease_ms = arg_int(5, 1, 1e9, 'lease_ms')\n"
	"local spec_max = arg_int(6, 1, 1e12, 'spec_max')\n"
	"if not valid_id(ARGV[3]) then bad('entry ' .. show(ARGV[3]) .. ' is not a stream entry id') end\n"
	"check_globals()\n"
	"return claim_job(ARGV[2], ARGV[3], ARGV[4], lease_ms, spec_max)\n"
	LUA_EPILOGUE};

const lr_script lr_lua_renew = {"renew", LUA_PRELUDE
	"-- ARGV: P, id, attempt, worker, lease_ms. {'ok'} or {'stale', state, attempt[, why]}.\n"
	"local id = ARGV[2]\n"
	"local lease_ms = arg_int(5, 1, 1e9, 'lease_ms')\n"
	"check_globals()\n"
	"local j = read_job(id)\n"
	"if buriable(j) then\n"
	"  bury(j, j.broken)\n"
	"  return {'stale', 'dead', I(j.n.attempt), j.broken}\n"
	"end\n"
	"if not j or j.state ~= 'running' or j.attempt ~= ARGV[3] then\n"
	"  return {'stale', j and j.state or 'gone', j and j.attempt or '0'}\n"
	"end\n"
	"local lease = NOW + lease_ms\n"
	"redis.call('HSET', j.k, 'lease_until', I(lease))\n"
	"redis.call('ZADD', LEASES, I(lease), id)\n"
	"-- Reset the entry's idle time so pending scans leave it alone.\n"
	"if j.entry and j.entry ~= '' then\n"
	"  redis.call('XCLAIM', JOBS, 'workers', ARGV[4], '0', j.entry, 'JUSTID')\n"
	"end\n"
	"return {'ok'}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_write = {"write", LUA_PRELUDE
	"-- Fenced writes. ARGV: P, id, attempt, then operations:\n"
	"--   set <n> <field> <value> ...        fields of the job hash\n"
	"--   iter <i> <n> <field> <value> ...   fields of iteration i (listed in :its)\n"
	"--   event <type> <n> <field> <value>   an event\n"
	"--   aux <suffix>                       a key P job:<id>:<suffix> that expires with the job\n"
	"-- All or nothing: the operations are checked before anything is written.\n"
	"local id = ARGV[2]\n"
	"local i = 4\n"
	"local iters, auxs = {}, {}\n"
	"while i <= #ARGV do\n"
	"  local op = ARGV[i]\n"
	"  local n\n"
	"  if op == 'set' then n = int(ARGV[i + 1], 0, 1e6); i = i + 2\n"
	"  elseif op == 'iter' or op == 'event' then\n"
	"    n = int(ARGV[i + 2], 0, 1e6); i = i + 3\n"
	"    if op == 'iter' then\n"
	"      if not int(ARGV[i - 2], 0, ITER_MAX) then\n"
	"        bad('iteration ' .. show(ARGV[i - 2]) .. ' is not a number in 0..' .. ITER_MAX)\n"
	"      end\n"
	"      iters[#iters + 1] = ARGV[i - 2]\n"
	"    elseif #(ARGV[i - 2] or '') == 0 or #ARGV[i - 2] > 64 then\n"
	"      bad('event types are 1..64 bytes')\n"
	"    end\n"
	"  elseif op == 'aux' then\n"
	"    n = 0; i = i + 2\n"
	"    if not string.match(ARGV[i - 1] or '', '^[%w:_%-]+$') or #ARGV[i - 1] > 64 then\n"
	"      bad('bad aux key suffix ' .. show(ARGV[i - 1] or ''))\n"
	"    end\n"
	"    auxs[#auxs + 1] = ARGV[i - 1]\n"
	"  else bad('unknown write operation ' .. show(op)) end\n"
	"  if not n then bad('bad field count') end\n"
	"  i = i + 2 * n\n"
	"end\n"
	"if i ~= #ARGV + 1 then bad('truncated operations') end\n"
	"check_globals()\n"
	"local j = read_job(id)\n"
	"if j and not j.broken then\n"
	"  for _, it in ipairs(iters) do\n"
	"    local e = type_err(j.k .. ':it:' .. it, 'hash')\n"
	"    if e then j.broken = 'job ' .. id .. ': ' .. e end\n"
	"  end\n"
	"  local aux = aux_list(j.aux)\n"
	"  if #aux + #auxs > AUX_MAX then j.broken = 'job ' .. id .. ': over ' .. AUX_MAX .. ' auxiliary keys' end\n"
	"end\n"
	"local st = fence(id, j, ARGV[3])\n"
	"if st then return st end\n"
	"local k = j.k\n"
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
	"    local n, first = 0, 0\n"
	"    if op == 'set' then n = tonumber(ARGV[i + 1]); first = i + 2\n"
	"    else n = tonumber(ARGV[i + 2]); first = i + 3 end\n"
	"    local a = {}\n"
	"    for x = first, first + 2 * n - 1 do a[#a + 1] = ARGV[x] end\n"
	"    if op == 'set' and n > 0 then\n"
	"      redis.call('HSET', k, unpack(a))\n"
	"    elseif op == 'iter' then\n"
	"      local it = tonumber(ARGV[i + 1])\n"
	"      if n > 0 then redis.call('HSET', k .. ':it:' .. I(it), unpack(a)) end\n"
	"      -- A job begun before :its existed: list its earlier iterations first.\n"
	"      if j.n.iterations >= 0 and redis.call('EXISTS', k .. ':its') == 0 then\n"
	"        for x = 0, j.n.iterations do redis.call('SADD', k .. ':its', I(x)) end\n"
	"      end\n"
	"      redis.call('SADD', k .. ':its', I(it))\n"
	"      if it > j.n.iterations then\n"
	"        redis.call('HSET', k, 'iterations', I(it))\n"
	"        j.n.iterations = it\n"
	"      end\n"
	"    elseif op == 'event' then\n"
	"      emit(j, ARGV[i + 1], a)\n"
	"    end\n"
	"    i = first + 2 * n\n"
	"  end\n"
	"end\n"
	"return {'ok'}\n"
	LUA_EPILOGUE};

/* The finish of an attempt, and the next job's claim: the finish script and
 * the finish that takes the next job share them. */
#define LUA_FINISH \
	"-- Finish an attempt: ARGV[2..7] are id, attempt, passed (1|0), result,\n" \
	"-- error, summary; field/value pairs for the job hash run from ARGV[extra] to\n" \
	"-- the end. {'ok'}, {'already'} (this attempt finished it before; the reply\n" \
	"-- was lost) or {'stale', state, attempt[, why]}. Checks before it writes.\n" \
	"local function finish_job(extra)\n" \
	"  local id = ARGV[2]\n" \
	"  if ARGV[4] ~= '1' and ARGV[4] ~= '0' then bad('passed must be 1 or 0') end\n" \
	"  if (#ARGV - extra + 1) % 2 ~= 0 then bad('extra fields come in pairs') end\n" \
	"  check_globals()\n" \
	"  local j = read_job(id)\n" \
	"  if j and j.state == 'done' and j.final_attempt == ARGV[3] then return {'already'} end\n" \
	"  local st = fence(id, j, ARGV[3])\n" \
	"  if st then return st end\n" \
	"  local a = {'HSET', j.k, 'passed', ARGV[4], 'result', ARGV[5], 'summary', ARGV[7]}\n" \
	"  for x = extra, #ARGV do a[#a + 1] = ARGV[x] end\n" \
	"  redis.call(unpack(a))\n" \
	"  if ARGV[6] ~= '' then redis.call('HSET', j.k, 'error', ARGV[6])\n" \
	"  else redis.call('HDEL', j.k, 'error') end\n" \
	"  redis.call('HINCRBY', STATS, ARGV[4] == '1' and 'total:passed' or 'total:failed', 1)\n" \
	"  set_state(j, 'done')\n" \
	"  redis.call('HSET', j.k, 'final_attempt', ARGV[3])\n" \
	"  emit(j, 'done', {'passed', ARGV[4], 'summary', ARGV[7]})\n" \
	"  finalize(j)\n" \
	"  return {'ok'}\n" \
	"end\n" \
	"-- The next job for `worker`, as its blocking read and the claim would find\n" \
	"-- it, without waiting: an entry routed to it (left in its pending list) first,\n" \
	"-- then a new one. Entries that are not a job's, or whose claim skips them or\n" \
	"-- routes them on, are passed over (a few at most). {'ok', attempt, spec, kind,\n" \
	"-- id, entry}, {'dead', reason, id} or {'none'}.\n" \
	"local function take_next(worker, lease_ms, spec_max)\n" \
	"  for _, from in ipairs({'0', '>'}) do\n" \
	"    for _ = 1, 8 do\n" \
	"      local rep = redis.call('XREADGROUP', 'GROUP', 'workers', worker, 'COUNT', '1',\n" \
	"        'STREAMS', JOBS, from)\n" \
	"      local e = rep and rep[1] and rep[1][2][1]\n" \
	"      if not e then break end\n" \
	"      local f = e[2]\n" \
	"      local id = type(f) == 'table' and #f == 2 and f[1] == 'job' and f[2]\n" \
	"      if not id or not valid_id(id) or #id > 48 then\n" \
	"        ack_entry(e[1])\n" \
	"      else\n" \
	"        local r = claim_job(id, e[1], worker, lease_ms, spec_max)\n" \
	"        if r[1] == 'ok' then return {'ok', r[2], r[3], r[4], id, e[1]} end\n" \
	"        if r[1] == 'dead' then return {'dead', r[2], id} end\n" \
	"      end\n" \
	"    end\n" \
	"  end\n" \
	"  return {'none'}\n" \
	"end\n"

const lr_script lr_lua_finish = {"finish", LUA_PRELUDE
	LUA_FINISH
	"-- ARGV: P, id, attempt, passed (1|0), result, error, summary, then field/value\n"
	"-- pairs for the job hash: finish_job's.\n"
	"return finish_job(8)\n"
	LUA_EPILOGUE};

const lr_script lr_lua_finish_next = {"finish_next", LUA_PRELUDE
	LUA_CLAIM
	LUA_FINISH
	"-- ARGV: P, id, attempt, passed, result, error, summary (as finish), worker,\n"
	"-- lease_ms, spec_max (as claim), then the field/value pairs. The attempt's\n"
	"-- finish, then the next job claimed for the worker in the same call (after a\n"
	"-- refused finish too: the worker is free either way): {finish's reply,\n"
	"-- take_next's}. A refusal (bad data) comes before anything is written.\n"
	"local worker = ARGV[8]\n"
	"if #worker == 0 then bad('worker must be named') end\n"
	"local lease_ms = arg_int(9, 1, 1e9, 'lease_ms')\n"
	"local spec_max = arg_int(10, 1, 1e12, 'spec_max')\n"
	"local fin = finish_job(11)\n"
	"return {fin, take_next(worker, lease_ms, spec_max)}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_fail = {"fail", LUA_PRELUDE
	"-- ARGV: P, id, attempt, mode (retry|release|dead), reason, rnd (0..1).\n"
	"-- {outcome} (retry, queued, dead) or {'stale', state, attempt[, why]}.\n"
	"local id = ARGV[2]\n"
	"local mode = ARGV[4]\n"
	"if mode ~= 'retry' and mode ~= 'release' and mode ~= 'dead' then bad('unknown mode ' .. show(mode)) end\n"
	"local rnd = tonumber(ARGV[6]) or 0.5\n"
	"if rnd < 0 or rnd > 1 then rnd = 0.5 end\n"
	"check_globals()\n"
	"local j = read_job(id)\n"
	"local st = fence(id, j, ARGV[3])\n"
	"if st then return st end\n"
	"if mode == 'dead' then\n"
	"  dead_letter(j, ARGV[5])\n"
	"  return {'dead'}\n"
	"end\n"
	"return {retry_or_dead(j, ARGV[5], mode == 'release' and 0 or 1, rnd)}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_reclaim = {"reclaim", LUA_PRELUDE
	"-- Jobs whose worker stopped renewing its lease. ARGV: P, limit, rnd.\n"
	"-- Returns {reclaimed, buried id, reason, ...}.\n"
	"local limit = arg_int(2, 1, 10000, 'limit')\n"
	"local rnd = tonumber(ARGV[3]) or 0.5\n"
	"if rnd < 0 or rnd > 1 then rnd = 0.5 end\n"
	"check_globals()\n"
	"local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', I(NOW), 'LIMIT', 0, limit)\n"
	"local out = {0}\n"
	"for i, id in ipairs(ids) do\n"
	"  local j = read_job(id)\n"
	"  if buriable(j) then\n"
	"    bury(j, j.broken)\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = j.broken\n"
	"  elseif not j or j.state ~= 'running' then\n"
	"    redis.call('ZREM', LEASES, id)\n"
	"  elseif j.n.lease_until > NOW then\n"
	"    redis.call('ZADD', LEASES, I(j.n.lease_until), id)\n"
	"  else\n"
	"    out[1] = out[1] + 1\n"
	"    redis.call('HINCRBY', STATS, 'total:reclaimed', 1)\n"
	"    emit(j, 'lease_expired', {'worker', j.worker or ''})\n"
	"    retry_or_dead(j, 'worker ' .. (j.worker or '?') ..\n"
	"      ' stopped renewing its lease during attempt ' .. I(j.n.attempt), 1, (rnd + i * 0.618) % 1)\n"
	"  end\n"
	"end\n"
	"return out\n"
	LUA_EPILOGUE};

const lr_script lr_lua_promote = {"promote", LUA_PRELUDE
	"-- Jobs whose retry is due go back in line. ARGV: P, limit.\n"
	"-- Returns {promoted, buried id, reason, ...}.\n"
	"local limit = arg_int(2, 1, 10000, 'limit')\n"
	"check_globals()\n"
	"local ids = redis.call('ZRANGEBYSCORE', DELAYED, '-inf', I(NOW), 'LIMIT', 0, limit)\n"
	"local out = {0}\n"
	"for _, id in ipairs(ids) do\n"
	"  local j = read_job(id)\n"
	"  redis.call('ZREM', DELAYED, id)\n"
	"  if buriable(j) then\n"
	"    bury(j, j.broken)\n"
	"    out[#out + 1] = id\n"
	"    out[#out + 1] = j.broken\n"
	"  elseif j and j.state == 'retry_wait' then\n"
	"    set_state(j, 'queued')\n"
	"    enqueue(j)\n"
	"    emit(j, 'queued', {})\n"
	"    out[1] = out[1] + 1\n"
	"  end\n"
	"end\n"
	"return out\n"
	LUA_EPILOGUE};

const lr_script lr_lua_orphans = {"orphans", LUA_PRELUDE
	"-- Work-stream entries pending for long (ARGV: P, entry ids...): delivered to a\n"
	"-- consumer that never claimed them, or left over.\n"
	"-- Returns {fixed, buried id, reason, ...}.\n"
	"check_globals()\n"
	"local out = {0}\n"
	"for i = 2, #ARGV do\n"
	"  local e = ARGV[i]\n"
	"  if valid_id(e) then\n"
	"    local r = redis.call('XRANGE', JOBS, e, e)\n"
	"    local id = nil\n"
	"    if r[1] and #r[1][2] == 2 and r[1][2][1] == 'job' then id = r[1][2][2] end\n"
	"    local j = read_job(id)\n"
	"    if buriable(j) and j.entry == e then\n"
	"      bury(j, j.broken, e)\n"
	"      out[#out + 1] = id\n"
	"      out[#out + 1] = j.broken\n"
	"    elseif not j or j.entry ~= e then\n"
	"      ack_entry(e)\n"
	"      out[1] = out[1] + 1\n"
	"    elseif j.state == 'queued' then\n"
	"      ack_entry(e)\n"
	"      enqueue(j)\n"
	"      emit(j, 'redelivered', {})\n"
	"      out[1] = out[1] + 1\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n"
	LUA_EPILOGUE};

const lr_script lr_lua_cancel = {"cancel", LUA_PRELUDE
	"-- ARGV: P, id, by. {'cancelled', previous state}, {'final', state}, {'missing'}\n"
	"-- or {'dead', reason} (its keys were broken: it was buried).\n"
	"-- A running job ends at once: its worker's next fenced write is refused.\n"
	"check_globals()\n"
	"local j = read_job(ARGV[2])\n"
	"if not j then return {'missing'} end\n"
	"if buriable(j) then\n"
	"  bury(j, j.broken)\n"
	"  return {'dead', j.broken}\n"
	"end\n"
	"if FINAL[j.state] then return {'final', j.state} end\n"
	"local prev = j.state\n"
	"redis.call('HSET', j.k, 'cancel', '1')\n"
	"to_final(j, 'cancelled', 'cancelled by ' .. ARGV[3])\n"
	"return {'cancelled', prev}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_heartbeat = {"heartbeat", LUA_PRELUDE
	"-- ARGV: P, worker, ttl_ms, then field/value pairs describing the worker.\n"
	"local ttl = arg_int(3, 1, 1e9, 'ttl_ms')\n"
	"if (#ARGV - 3) % 2 ~= 0 then bad('fields come in pairs') end\n"
	"need(WORKERS, 'zset')\n"
	"local k = P .. 'worker:' .. ARGV[2]\n"
	"-- The record is the worker's own and short-lived: one of the wrong type goes.\n"
	"if type_err(k, 'hash') then redis.call('DEL', k) end\n"
	"redis.call('ZADD', WORKERS, I(NOW), ARGV[2])\n"
	"local a = {'HSET', k, 'seen', I(NOW)}\n"
	"for x = 4, #ARGV do a[#a + 1] = ARGV[x] end\n"
	"redis.call(unpack(a))\n"
	"redis.call('PEXPIRE', k, I(ttl))\n"
	"return 1\n"
	LUA_EPILOGUE};

const lr_script lr_lua_gc = {"gc", LUA_PRELUDE
	"-- Housekeeping. ARGV: P, consumer_idle_ms, worker_gone_ms.\n"
	"-- Forgets workers silent for worker_gone_ms and consumers that have nothing\n"
	"-- pending and were idle for consumer_idle_ms. Returns {workers, consumers}.\n"
	"local idle = arg_int(2, 0, 1e12, 'consumer_idle_ms')\n"
	"local gone = arg_int(3, 0, 1e12, 'worker_gone_ms')\n"
	"need(WORKERS, 'zset')\n"
	"local w = redis.call('ZREMRANGEBYSCORE', WORKERS, '-inf', I(NOW - gone))\n"
	"local c = 0\n"
	"local groups = {{JOBS, 'workers'}, {REQS, 'dispatchers'}, {CTL, 'dispatchers'}}\n"
	"for _, g in ipairs(groups) do\n"
	"  if ktype(g[1]) == 'stream' then\n"
	"    local r = redis.pcall('XINFO', 'CONSUMERS', g[1], g[2])\n"
	"    if type(r) == 'table' and not r.err then\n"
	"      for _, cons in ipairs(r) do\n"
	"        local m = {}\n"
	"        for x = 1, #cons, 2 do m[cons[x]] = cons[x + 1] end\n"
	"        if tonumber(m['pending']) == 0 and (tonumber(m['idle']) or 0) > idle then\n"
	"          redis.call('XGROUP', 'DELCONSUMER', g[1], g[2], m['name'])\n"
	"          c = c + 1\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return {w, c}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_repair = {"repair", LUA_PRELUDE
	"-- Put right what a hand on the keys broke. ARGV: P, cursor, count.\n"
	"-- 1. A shared key of the wrong type is moved aside to P broken:<name>:<ms>\n"
	"--    (kept a week) and made again; a counter that is not a number restarts at 0.\n"
	"-- 2. One SCAN page of job hashes: a broken job is buried; a queued job whose\n"
	"--    entry is gone is queued again; a running job missing from the leases or a\n"
	"--    waiting one missing from the retries is put back; a final job without an\n"
	"--    expiry gets one.\n"
	"-- Returns {next cursor, {fixed key, what, ...}, {job id, what, ...}}.\n"
	"local count = arg_int(3, 1, 10000, 'count')\n"
	"if not string.match(ARGV[2], '^%d+$') then bad('cursor must be a number') end\n"
	"local keys, jobs = {}, {}\n"
	"local shared = {{STATS, 'hash', 'stats'}, {JOBS, 'stream', 'jobs', 'workers'},\n"
	"  {REQS, 'stream', 'requests', 'dispatchers'}, {CTL, 'stream', 'control', 'dispatchers'},\n"
	"  {LEASES, 'zset', 'leases'}, {DELAYED, 'zset', 'delayed'}, {DEAD, 'stream', 'dead'},\n"
	"  {WORKERS, 'zset', 'workers'}, {FINISHED, 'zset', 'finished'},\n"
	"  {CALLBACKS, 'zset', 'callbacks'}}\n"
	"for _, s in ipairs(shared) do\n"
	"  local t = ktype(s[1])\n"
	"  if t ~= s[2] and t ~= 'none' then\n"
	"    local aside = P .. 'broken:' .. s[3] .. ':' .. I(NOW)\n"
	"    redis.call('RENAME', s[1], aside)\n"
	"    redis.call('EXPIRE', aside, 7 * 86400)\n"
	"    keys[#keys + 1] = s[1]\n"
	"    keys[#keys + 1] = 'was a ' .. t .. ', moved to ' .. aside\n"
	"  end\n"
	"  if s[4] and ktype(s[1]) == 'none' then\n"
	"    redis.call('XGROUP', 'CREATE', s[1], s[4], '0', 'MKSTREAM')\n"
	"  end\n"
	"end\n"
	"local v = redis.call('HMGET', STATS, unpack(COUNTERS))\n"
	"for i = 1, #COUNTERS do\n"
	"  if v[i] and not int(v[i], -1e15, 1e15) then\n"
	"    redis.call('HSET', STATS, COUNTERS[i], '0')\n"
	"    keys[#keys + 1] = STATS\n"
	"    keys[#keys + 1] = 'counter ' .. COUNTERS[i] .. ' was ' .. show(v[i]) .. ', now 0'\n"
	"  end\n"
	"end\n"
	"local glob = string.gsub(P .. 'job:', '([%*%?%[%]\\\\])', '\\\\%1') .. '*'\n"
	"local page = redis.call('SCAN', ARGV[2], 'MATCH', glob, 'COUNT', I(count))\n"
	"local head = P .. 'job:'\n"
	"local function fixed(id, what) jobs[#jobs + 1] = id; jobs[#jobs + 1] = what end\n"
	"for _, key in ipairs(page[2]) do\n"
	"  local id = string.sub(key, #head + 1)\n"
	"  if string.sub(key, 1, #head) == head and valid_id(id) then\n"
	"    local j = read_job(id)\n"
	"    -- (A key that is not a hash is buried once: bury gives it an expiry.)\n"
	"    if buriable(j) and (j.hash or redis.call('TTL', key) == -1) then\n"
	"      bury(j, j.broken)\n"
	"      fixed(id, 'buried: ' .. j.broken)\n"
	"    elseif j and j.broken then\n"
	"      if j.hash and redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, j.n.ttl) end\n"
	"    elseif j.state == 'queued' and (not j.entry or j.entry == '' or\n"
	"        #redis.call('XRANGE', JOBS, j.entry, j.entry) == 0) then\n"
	"      enqueue(j)\n"
	"      emit(j, 'redelivered', {})\n"
	"      fixed(id, 'queued again: its work entry was gone')\n"
	"    elseif j.state == 'running' and not redis.call('ZSCORE', LEASES, id) then\n"
	"      redis.call('ZADD', LEASES, I(math.max(j.n.lease_until, NOW)), id)\n"
	"      fixed(id, 'lease put back')\n"
	"    elseif j.state == 'retry_wait' and not redis.call('ZSCORE', DELAYED, id) then\n"
	"      redis.call('ZADD', DELAYED, I(NOW), id)\n"
	"      fixed(id, 'retry put back')\n"
	"    elseif FINAL[j.state] and redis.call('TTL', key) == -1 then\n"
	"      expire_all(j, j.n.ttl)\n"
	"      fixed(id, 'expiry set')\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return {page[1], keys, jobs}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_retain = {"retain", "#!lua flags=allow-oom\n" LUA_PRELUDE
	"-- Retention by size: forget finished jobs (oldest first) while their\n"
	"-- bytes exceed ARGV[2]; drop entries whose keys already expired. Runs even\n"
	"-- when Redis is out of memory (it only frees). ARGV: P, max_bytes (0: no\n"
	"-- limit), limit. Returns {evicted, expired, finished_bytes}.\n"
	"local max = arg_int(2, 0, 1e15, 'max_bytes')\n"
	"local limit = arg_int(3, 1, 10000, 'limit')\n"
	"need(STATS, 'hash')\n"
	"need(FINISHED, 'zset')\n"
	"local total = int(redis.call('HGET', STATS, 'finished_bytes') or '0', -1e15, 1e15) or 0\n"
	"local evicted, expired = 0, 0\n"
	"for _ = 1, limit do\n"
	"  local head = redis.call('ZRANGE', FINISHED, 0, 0)[1]\n"
	"  if not head then total = 0; break end\n"
	"  local id, b = string.match(head, '^(%S+) (%d+)$')\n"
	"  local j = id and read_job(id)\n"
	"  if not j then\n"
	"    expired = expired + 1\n"
	"  elseif max > 0 and total > max and FINAL[j.state] then\n"
	"    redis.call('DEL', unpack(job_keys(j)))\n"
	"    evicted = evicted + 1\n"
	"  else\n"
	"    break\n"
	"  end\n"
	"  redis.call('ZREM', FINISHED, head)\n"
	"  total = total - (tonumber(b) or 0)\n"
	"end\n"
	"if total < 0 then total = 0 end\n"
	"redis.call('HSET', STATS, 'finished_bytes', I(total))\n"
	"if evicted > 0 then redis.call('HINCRBY', STATS, 'total:evicted', evicted) end\n"
	"return {evicted, expired, total}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_cb_take = {"cb_take", LUA_PRELUDE
	"-- Due callbacks. ARGV: P, lease_ms, limit. Each taken one is moved a lease\n"
	"-- ahead (redelivered if this dispatcher dies) and its attempt counted.\n"
	"-- Returns {{id, attempt, url, state, passed, error, summary, result}, ...}.\n"
	"local lease = arg_int(2, 1, 1e10, 'lease_ms')\n"
	"local limit = arg_int(3, 1, 1000, 'limit')\n"
	"need(CALLBACKS, 'zset')\n"
	"local ids = redis.call('ZRANGEBYSCORE', CALLBACKS, '-inf', I(NOW), 'LIMIT', 0, limit)\n"
	"local out = {}\n"
	"for _, id in ipairs(ids) do\n"
	"  local k = jkey(id)\n"
	"  local h = ktype(k) == 'hash' and\n"
	"    redis.call('HMGET', k, 'callback', 'state', 'passed', 'error', 'summary', 'result',\n"
	"      'callback_attempts') or {}\n"
	"  if not h[1] or not FINAL[h[2] or ''] then\n"
	"    redis.call('ZREM', CALLBACKS, id)\n"
	"  else\n"
	"    local a = (int(h[7] or '0', 0, 1e9) or 0) + 1\n"
	"    redis.call('ZADD', CALLBACKS, I(NOW + lease), id)\n"
	"    redis.call('HSET', k, 'callback_attempts', I(a))\n"
	"    out[#out + 1] = {id, I(a), h[1], h[2], h[3] or '', h[4] or '', h[5] or '', h[6] or ''}\n"
	"  end\n"
	"end\n"
	"return out\n"
	LUA_EPILOGUE};

const lr_script lr_lua_cb_report = {"cb_report", LUA_PRELUDE
	"-- One attempt's outcome. ARGV: P, id, attempt, outcome (delivered|retry|\n"
	"-- failed), status, detail, retry_in_ms. The event is always recorded; the\n"
	"-- schedule changes only if no later attempt was taken meanwhile.\n"
	"local id = ARGV[2]\n"
	"local attempt = arg_int(3, 1, 1e9, 'attempt')\n"
	"local delay = arg_int(7, 0, 1e10, 'retry_in_ms')\n"
	"local OUT = {delivered = true, retry = true, failed = true}\n"
	"if not OUT[ARGV[4]] then bad('outcome must be delivered, retry or failed') end\n"
	"check_globals()\n"
	"local j = read_job(id)\n"
	"if not j or j.broken then redis.call('ZREM', CALLBACKS, id); return 'gone' end\n"
	"local ev = {'callback_attempt', I(attempt), 'outcome', ARGV[4], 'status', ARGV[5]}\n"
	"if ARGV[6] ~= '' then ev[#ev + 1] = 'detail'; ev[#ev + 1] = ARGV[6] end\n"
	"if ARGV[4] == 'retry' then ev[#ev + 1] = 'retry_in_ms'; ev[#ev + 1] = I(delay) end\n"
	"emit(j, 'callback', ev)\n"
	"if redis.call('HGET', j.k, 'callback_attempts') ~= I(attempt) then return 'stale' end\n"
	"if ARGV[4] == 'retry' then\n"
	"  redis.call('ZADD', CALLBACKS, I(NOW + delay), id)\n"
	"else\n"
	"  redis.call('ZREM', CALLBACKS, id)\n"
	"  redis.call('HSET', j.k, 'callback_state', ARGV[4])\n"
	"  redis.call('HINCRBY', STATS, 'total:callbacks_' .. ARGV[4], 1)\n"
	"end\n"
	"return 'ok'\n"
	LUA_EPILOGUE};

/* clang-format on */
