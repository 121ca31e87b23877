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

#include "queue_lua_prelude.h"

/* clang-format off */

const lr_script lr_lua_intake = {"intake", LUA_PRELUDE
	"-- Record requests as jobs, each then acknowledged and deleted: the\n"
	"-- dispatcher's batch in one call. ARGV: P, ttl, max_attempts, backoff_ms,\n"
	"-- backoff_max_ms, events_max, then for each request: id, state (queued|\n"
	"-- rejected), kind, spec, error, notes, spec_bytes. Returns each one's\n"
	"-- outcome: its state, or 'exists' (a job that exists is left alone).\n"
	"local pol = policy(2)\n"
	"local n = (#ARGV - 6) / 7\n"
	"if n < 1 or n ~= math.floor(n) then bad('requests come as seven arguments each') end\n"
	"local bytes = {}\n"
	"for r = 1, n do\n"
	"  local b = r * 7\n"
	"  if not valid_id(ARGV[b]) then bad('request id ' .. show(ARGV[b]) .. ' is not a stream entry id') end\n"
	"  if ARGV[b + 1] ~= 'queued' and ARGV[b + 1] ~= 'rejected' then bad('state must be queued or rejected') end\n"
	"  bytes[r] = arg_int(b + 6, 0, 1e12, 'spec_bytes')\n"
	"end\n"
	"check_globals()\n"
	"need(REQS, 'stream')\n"
	"local out = {}\n"
	"for r = 1, n do\n"
	"  local b = r * 7\n"
	"  local id = ARGV[b]\n"
	"  if redis.call('EXISTS', jkey(id)) == 1 then\n"
	"    out[r] = 'exists'\n"
	"  else\n"
	"    record(id, ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5], I(bytes[r]), pol)\n"
	"    out[r] = ARGV[b + 1]\n"
	"  end\n"
	"  ack_request(id)\n"
	"end\n"
	"return out\n"
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
	"-- (XCLAIM) and a wake entry tells it. A work-stream entry is routed once,\n" \
	"-- unless the worker it reached is at its limit (it filled up meanwhile): it\n" \
	"-- then passes it on, ROUTES_MAX times at most; a job back in line (its entry\n" \
	"-- redelivered by the orphan sweep, or its retry) is a new entry, routed afresh.\n" \
	"local ROUTES_MAX = 4\n" \
	"-- A place for the session on the worker a cell goes to, reserved by the\n" \
	"-- script that sends it there (routes it, or claims it for the worker\n" \
	"-- itself) when that worker does not hold the session: the job's id in\n" \
	"-- P places:<worker> (a zset, scored by when), counted as a session held\n" \
	"-- while the job is routed there (queued, its entry the routed one) or\n" \
	"-- running there. The worker's note of a count that has the session drops\n" \
	"-- it (lr_q_note_sessions); a member whose job has gone elsewhere, ended or\n" \
	"-- vanished is dropped when it is counted; the set expires with the\n" \
	"-- worker's record (the heartbeat's expiry; unregister deletes it). So two\n" \
	"-- cells are never sent to one free place, and a dead worker's places go\n" \
	"-- with it.\n" \
	"local PLACES_MAX = 256\n" \
	"local function places(w)\n" \
	"  local k = P .. 'places:' .. w\n" \
	"  local t = ktype(k)\n" \
	"  if t == 'none' then return 0 end\n" \
	"  if t ~= 'zset' then redis.call('DEL', k); return 0 end\n" \
	"  local n = 0\n" \
	"  for _, m in ipairs(redis.call('ZRANGE', k, 0, PLACES_MAX - 1)) do\n" \
	"    local f = valid_id(m) and m ~= id and ktype(jkey(m)) == 'hash' and\n" \
	"      redis.call('HMGET', jkey(m), 'state', 'worker', 'routed', 'routed_entry', 'entry')\n" \
	"    if f and (f[1] == 'queued' and f[3] == w and f[4] == f[5] or\n" \
	"        f[1] == 'running' and f[2] == w) then n = n + 1\n" \
	"    elseif m ~= id then redis.call('ZREM', k, m) end\n" \
	"  end\n" \
	"  return n\n" \
	"end\n" \
	"local function reserve(w)\n" \
	"  local k = P .. 'places:' .. w\n" \
	"  if ktype(k) ~= 'zset' and ktype(k) ~= 'none' then redis.call('DEL', k) end\n" \
	"  redis.call('ZADD', k, I(NOW), id)\n" \
	"  local ttl = redis.call('PTTL', P .. 'worker:' .. w)\n" \
	"  if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n" \
	"end\n" \
	"local function unreserve(w)\n" \
	"  local k = P .. 'places:' .. w\n" \
	"  if ktype(k) == 'zset' then redis.call('ZREM', k, id) end\n" \
	"end\n" \
	"local function live(w)\n" \
	"  local k = P .. 'worker:' .. w\n" \
	"  if w == '' or ktype(k) ~= 'hash' then return nil end\n" \
	"  local v = redis.call('HMGET', k, 'job', 'sessions', 'sessions_max')\n" \
	"  local busy = false\n" \
	"  if v[1] and valid_id(v[1]) and ktype(jkey(v[1])) == 'hash' then\n" \
	"    local s = redis.call('HMGET', jkey(v[1]), 'state', 'worker')\n" \
	"    busy = s[1] == 'running' and s[2] == w\n" \
	"  end\n" \
	"  local max = tonumber(v[3]) or 0\n" \
	"  return {busy = busy, n = (tonumber(v[2]) or 0) + (max > 0 and places(w) or 0), max = max}\n" \
	"end\n" \
	"local routes = 0\n" \
	"local holder = nil -- the session's worker, for an exec or close job of one\n" \
	"local function route_to(me)\n" \
	"  if j.kind ~= 'exec' and j.kind ~= 'session_close' then return nil end\n" \
	"  local r = redis.call('HMGET', j.k, 'routed_entry', 'routes')\n" \
	"  local again = r[1] == entry\n" \
	"  routes = again and (tonumber(r[2]) or ROUTES_MAX) or 0\n" \
	"  local ok, spec = pcall(cjson.decode, redis.call('HGET', j.k, 'spec') or '')\n" \
	"  if not ok or type(spec) ~= 'table' or type(spec.session) ~= 'string' then return nil end\n" \
	"  local sk = P .. 'session:' .. spec.session\n" \
	"  if ktype(sk) ~= 'hash' then return nil end\n" \
	"  holder = redis.call('HGET', sk, 'worker') or ''\n" \
	"  if holder == me or routes >= ROUTES_MAX then return nil end\n" \
	"  local h, mine = live(holder), live(me)\n" \
	"  local full = mine and mine.max > 0 and mine.n >= mine.max\n" \
	"  if again and not full then return nil end\n" \
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
	"-- The place: on the worker the cell goes to, unless it holds the session.\n" \
	"local placed = j.kind == 'exec' and holder ~= nil\n" \
	"if placed then\n" \
	"  local was = redis.call('HGET', j.k, 'routed')\n" \
	"  if was and was ~= '' then unreserve(was) end\n" \
	"end\n" \
	"if to then\n" \
	"  redis.call('XCLAIM', JOBS, 'workers', to, '0', entry, 'JUSTID')\n" \
	"  redis.call('HSET', j.k, 'routed', to, 'routed_entry', entry, 'routes', I(routes + 1))\n" \
	"  if placed and to ~= holder then reserve(to) end\n" \
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
	"if placed and holder ~= worker then reserve(worker) end\n" \
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
	"-- `sessions` comes with `sessions_at`, when it was counted, and is written\n"
	"-- only over an older count: the worker's main thread writes it too (its\n"
	"-- note, lr_q_note_sessions), and this beat may have read it before that.\n"
	"local stale = false\n"
	"for x = 4, #ARGV - 1, 2 do\n"
	"  if ARGV[x] == 'sessions_at' then\n"
	"    local old = tonumber(redis.call('HGET', k, 'sessions_at') or '') or 0\n"
	"    stale = (tonumber(ARGV[x + 1]) or 0) < old\n"
	"  end\n"
	"end\n"
	"local a = {'HSET', k, 'seen', I(NOW)}\n"
	"for x = 4, #ARGV - 1, 2 do\n"
	"  if not (stale and (ARGV[x] == 'sessions' or ARGV[x] == 'sessions_at')) then\n"
	"    a[#a + 1] = ARGV[x]\n"
	"    a[#a + 1] = ARGV[x + 1]\n"
	"  end\n"
	"end\n"
	"redis.call(unpack(a))\n"
	"redis.call('PEXPIRE', k, I(ttl))\n"
	"-- The places reserved on it (the claim's) live as long as the record.\n"
	"local pk = P .. 'places:' .. ARGV[2]\n"
	"local pt = ktype(pk)\n"
	"if pt == 'zset' then redis.call('PEXPIRE', pk, I(ttl))\n"
	"elseif pt ~= 'none' then redis.call('DEL', pk) end\n"
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
	"-- A final job whose hash expires has nothing below to put right (a broken\n"
	"-- final one only lacks an expiry): two reads, not the whole job's check.\n"
	"-- Most jobs a page meets are these when finished jobs are kept.\n"
	"local function settled(key)\n"
	"  local s = redis.pcall('HGET', key, 'state')\n"
	"  return type(s) == 'string' and FINAL[s] and redis.call('TTL', key) >= 0\n"
	"end\n"
	"for _, key in ipairs(page[2]) do\n"
	"  local id = string.sub(key, #head + 1)\n"
	"  if string.sub(key, 1, #head) == head and valid_id(id) and not settled(key) then\n"
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
