/* queue_lua_prelude.h - the Lua every job-protocol script starts and ends
 * with (queue_lua.c, batch_lua.c): ARGV[1] is the key prefix; the helpers
 * for the clock, validation, counters, events, expiry, retry, burial and the
 * fence; then the script's body as `main`, whose refusals (bad()) become
 * error replies. Only .c files of common/ that define scripts include it. */
#ifndef LLMREPL_QUEUE_LUA_PRELUDE_H
#define LLMREPL_QUEUE_LUA_PRELUDE_H

#include "fence_lua.h"

/* clang-format off */
/* The job kinds (job.h's lr_job_kind, in its order) as Lua literals: X(a,
 * "<kind>") for each. */
#define LUA_KINDS(X, a) X(a, "evaluate") X(a, "generate") X(a, "refactor") X(a, "loop") \
	X(a, "session_open") X(a, "exec") X(a, "session_close") X(a, "batch")
#define LUA_KIND_SET(a, k)  k " = true, "
#define LUA_KIND_COUNTER(state, k) "'total:" state ":" k "', "
/* The counters total:<state>:<kind> of one final state, and :none. */
#define LUA_KINDS_BY(state) LUA_KINDS(LUA_KIND_COUNTER, state) "'total:" state ":none', "

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
	"-- The kinds of job.h (lr_job_kind): change both together (LUA_KINDS).\n" \
	"local KINDS = {" LUA_KINDS(LUA_KIND_SET, ) "}\n" \
	"-- Every counter of STATS; then total:<final state>:<kind>, for the kinds\n" \
	"-- there are and 'none'. (Written out whole: made from the lists, the\n" \
	"-- names were built again on every call of every script.)\n" \
	"local COUNTERS = {'queued', 'running', 'retry_wait', 'total:done', 'total:cancelled',\n" \
	"  'total:rejected', 'total:dead', 'total:passed', 'total:failed', 'total:submitted',\n" \
	"  'total:retries', 'total:reclaimed', 'total:stale_writes', 'total:evicted',\n" \
	"  'total:callbacks_delivered', 'total:callbacks_failed', 'finished_bytes',\n" \
	"  " LUA_KINDS_BY("done") LUA_KINDS_BY("cancelled") LUA_KINDS_BY("rejected") \
	LUA_KINDS_BY("dead") "}\n" \
	"local function kind_of(j) return KINDS[j.kind or ''] and j.kind or 'none' end\n" \
	"-- The shared keys a job's scripts may write: of their type, counters numbers\n" \
	"-- (int's bounds: up to 15 characters of digits are inside them).\n" \
	"local function check_globals()\n" \
	"  need(STATS, 'hash'); need(JOBS, 'stream'); need(LEASES, 'zset'); need(DELAYED, 'zset')\n" \
	"  need(DEAD, 'stream'); need(FINISHED, 'zset'); need(CALLBACKS, 'zset')\n" \
	"  local v = redis.call('HMGET', STATS, unpack(COUNTERS))\n" \
	"  for i = 1, #COUNTERS do\n" \
	"    local x = v[i]\n" \
	"    if x and not (#x <= 15 and string.find(x, '^%-?%d+$')) and not int(x, -1e15, 1e15) then\n" \
	"      bad('counter ' .. COUNTERS[i] .. ' of ' .. STATS .. ' is ' .. show(x) .. ', not an integer')\n" \
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
/* clang-format on */

#endif
