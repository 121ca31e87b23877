/* batch_lua.c - the scripts behind a batch job's items shared between
 * workers (batch_q.h, docs/protocol.md "Batch jobs").
 *
 * Keys: P batches (zset: running batch job -> when it was opened, ms), and
 * per job P job:<id>:todo (zset: an item index not yet recorded -> the index
 * itself while nobody holds it, else its claim's expiry in ms) and P job:<id>:claims (hash: index
 * -> the worker holding it). Every script a worker runs is fenced on the job's attempt (the
 * prelude's fence()): a helper that still works for an attempt that is over is refused like the
 * owner would be. What a hand on the keys broke (a member that is not an index of the batch, one
 * already recorded, a key of the wrong type) is dropped or replaced, and said in a `batch_data`
 * event and the reply: it never stops the batch. */
#include "batch_lua.h"

#include "queue_lua_prelude.h"

/* clang-format off */
#define BATCH_PRELUDE \
	"local BATCHES = P .. 'batches'\n" \
	"local why = {}\n" \
	"local function note(msg) if #why < 16 then why[#why + 1] = msg end end\n" \
	"-- What was put right, in one event (and the reply).\n" \
	"local function noted(j)\n" \
	"  if #why == 0 then return '' end\n" \
	"  local msg = table.concat(why, '; ')\n" \
	"  emit(j, 'batch_data', {'msg', msg})\n" \
	"  return msg\n" \
	"end\n" \
	"-- A key of the job that must be of type want: one of another type goes.\n" \
	"local function own_key(key, want)\n" \
	"  local t = ktype(key)\n" \
	"  if t ~= want and t ~= 'none' then\n" \
	"    redis.call('DEL', key)\n" \
	"    note('key ' .. key .. ' was a ' .. t .. ', not a ' .. want .. '; replaced')\n" \
	"  end\n" \
	"end\n" \
	"-- Item n is recorded: its iteration is listed and has a report.\n" \
	"local function recorded(j, n)\n" \
	"  return redis.call('SISMEMBER', j.k .. ':its', n) == 1 and\n" \
	"    ktype(j.k .. ':it:' .. n) == 'hash' and redis.call('HEXISTS', j.k .. ':it:' .. n, 'report') == 1\n" \
	"end\n" \
	"-- The job, fenced on the caller's attempt: j, or nil and the refusal.\n" \
	"local function running_batch(id, attempt)\n" \
	"  check_globals()\n" \
	"  local j = read_job(id)\n" \
	"  local st = fence(id, j, attempt)\n" \
	"  if st then return nil, st end\n" \
	"  own_key(j.k .. ':todo', 'zset')\n" \
	"  own_key(j.k .. ':claims', 'hash')\n" \
	"  return j\n" \
	"end\n"

const lr_script lr_lua_bq_open = {"batch open", LUA_PRELUDE BATCH_PRELUDE
	"-- ARGV: P, id, attempt, nitems, done, passed, share (1|0), then the indexes\n"
	"-- not done. Lists them as unclaimed (an earlier attempt's claims are void),\n"
	"-- sets the counts and, with share, opens the batch to other workers.\n"
	"-- {'ok', opened (1/0), what was put right} or {'stale', ...}.\n"
	"local nitems = arg_int(4, 1, ITER_MAX + 1, 'nitems')\n"
	"local done = arg_int(5, 0, nitems, 'done')\n"
	"local passed = arg_int(6, 0, done, 'passed')\n"
	"for i = 8, #ARGV do arg_int(i, 0, nitems - 1, 'item index') end\n"
	"local j, st = running_batch(ARGV[2], ARGV[3])\n"
	"if not j then return st end\n"
	"local todo = j.k .. ':todo'\n"
	"redis.call('DEL', todo, j.k .. ':claims')\n"
	"for i = 8, #ARGV, 1000 do\n"
	"  local a = {'ZADD', todo}\n"
	"  for x = i, math.min(i + 999, #ARGV) do a[#a + 1] = ARGV[x]; a[#a + 1] = ARGV[x] end\n"
	"  redis.call(unpack(a))\n"
	"end\n"
	"redis.call('HSET', j.k, 'items_total', I(nitems), 'items_done', I(done), 'items_passed', I(passed))\n"
	"local opened = 0\n"
	"if ARGV[7] == '1' and #ARGV >= 8 then\n"
	"  if type_err(BATCHES, 'zset') then\n"
	"    note('key ' .. BATCHES .. ' is a ' .. ktype(BATCHES) .. ', not a zset: no other worker helps')\n"
	"  else\n"
	"    redis.call('ZADD', BATCHES, I(NOW), j.id)\n"
	"    opened = 1\n"
	"    -- Wake the other workers: one waiting on its read looks for items now.\n"
	"    if ktype(WORKERS) == 'zset' then\n"
	"      for _, w in ipairs(redis.call('ZRANGE', WORKERS, 0, 255)) do\n"
	"        local wk = P .. 'wake:' .. w\n"
	"        if w ~= j.worker and ktype(wk) == 'stream' then\n"
	"          redis.call('XADD', wk, 'MAXLEN', '~', '64', '*', 'batch', j.id)\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return {'ok', opened, noted(j)}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_bq_claim = {"batch claim", LUA_PRELUDE BATCH_PRELUDE
	"-- ARGV: P, id, attempt, worker, nitems, claim_ms, k, then the indexes this\n"
	"-- worker holds. Extends the claims it still holds, then claims up to k items\n"
	"-- nobody holds (or whose claim expired), lowest index first.\n"
	"-- {'ok', left (items not recorded), what was put right, lost, claimed...}\n"
	"-- (lost: held indexes no longer this worker's) or {'stale', ...}.\n"
	"local nitems = arg_int(5, 1, ITER_MAX + 1, 'nitems')\n"
	"local claim_ms = arg_int(6, 1, 1e9, 'claim_ms')\n"
	"local k = arg_int(7, 0, 64, 'k')\n"
	"for i = 8, #ARGV do arg_int(i, 0, nitems - 1, 'item index') end\n"
	"local j, st = running_batch(ARGV[2], ARGV[3])\n"
	"if not j then return st end\n"
	"local me, todo, claims = ARGV[4], j.k .. ':todo', j.k .. ':claims'\n"
	"local till = I(NOW + claim_ms)\n"
	"local lost = 0\n"
	"for i = 8, #ARGV do\n"
	"  if redis.call('HGET', claims, ARGV[i]) == me and redis.call('ZSCORE', todo, ARGV[i]) then\n"
	"    redis.call('ZADD', todo, till, ARGV[i])\n"
	"  else lost = lost + 1 end\n"
	"end\n"
	"local out = {}\n"
	"while #out < k do\n"
	"  local c = redis.call('ZRANGEBYSCORE', todo, '-inf', I(NOW), 'LIMIT', 0, k - #out)\n"
	"  if #c == 0 then break end\n"
	"  for _, m in ipairs(c) do\n"
	"    local n = int(m, 0, nitems - 1)\n"
	"    if not n then\n"
	"      redis.call('ZREM', todo, m)\n"
	"      note('todo member ' .. show(m) .. ' is not an index of the ' .. I(nitems) .. ' items; dropped')\n"
	"    elseif recorded(j, m) then\n"
	"      redis.call('ZREM', todo, m)\n"
	"      redis.call('HDEL', claims, m)\n"
	"      note('item ' .. m .. ' is recorded already; dropped from the todo list')\n"
	"    else\n"
	"      redis.call('ZADD', todo, till, m)\n"
	"      redis.call('HSET', claims, m, me)\n"
	"      out[#out + 1] = m\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local left = redis.call('ZCARD', todo)\n"
	"if left == 0 and ktype(BATCHES) == 'zset' then redis.call('ZREM', BATCHES, j.id) end\n"
	"return {'ok', left, noted(j), lost, unpack(out)}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_bq_record = {"batch record", LUA_PRELUDE BATCH_PRELUDE
	"-- ARGV: P, id, attempt, n, worker, item id, passed (1|0), report, summary,\n"
	"-- error, tests_passed, tests_total. Records item n once: its iteration (with\n"
	"-- the worker that ran it), an `item` event and the counts.\n"
	"-- {'ok', items_done, items_passed}, {'already', worker} (recorded before:\n"
	"-- this outcome is dropped) or {'stale', ...}.\n"
	"local n = arg_int(4, 0, ITER_MAX, 'item index')\n"
	"if ARGV[7] ~= '1' and ARGV[7] ~= '0' then bad('passed must be 1 or 0') end\n"
	"local j, st = running_batch(ARGV[2], ARGV[3])\n"
	"if not j then return st end\n"
	"local it, todo, claims = j.k .. ':it:' .. I(n), j.k .. ':todo', j.k .. ':claims'\n"
	"own_key(it, 'hash')\n"
	"local function settled()\n"
	"  redis.call('ZREM', todo, I(n))\n"
	"  redis.call('HDEL', claims, I(n))\n"
	"end\n"
	"local h = redis.call('HMGET', it, 'item', 'report', 'worker', 'passed')\n"
	"if h[1] == ARGV[6] and h[2] and redis.call('SISMEMBER', j.k .. ':its', I(n)) == 1 then\n"
	"  settled()\n"
	"  noted(j)\n"
	"  return {'already', h[3] or ''}\n"
	"end\n"
	"redis.call('HSET', it, 'item', ARGV[6], 'passed', ARGV[7], 'report', ARGV[8], 'summary', ARGV[9],\n"
	"  'error', ARGV[10], 'tests_passed', ARGV[11], 'tests_total', ARGV[12], 'worker', ARGV[5])\n"
	"local fresh = redis.call('SADD', j.k .. ':its', I(n)) == 1\n"
	"if n > j.n.iterations then redis.call('HSET', j.k, 'iterations', I(n)) end\n"
	"settled()\n"
	"-- The counts: one more; a count someone broke starts again from the records.\n"
	"local function count(f, add)\n"
	"  local v = int(redis.call('HGET', j.k, f) or '0', 0, ITER_MAX + 1)\n"
	"  if not v then\n"
	"    v = 0\n"
	"    for _, m in ipairs(redis.call('SMEMBERS', j.k .. ':its')) do\n"
	"      if m ~= I(n) and (f == 'items_done' or redis.call('HGET', j.k .. ':it:' .. m, 'passed') == '1') then\n"
	"        v = v + 1\n"
	"      end\n"
	"    end\n"
	"    note('field ' .. f .. ' was not a count; recounted')\n"
	"  end\n"
	"  v = math.max(0, v + add)\n"
	"  redis.call('HSET', j.k, f, I(v))\n"
	"  return v\n"
	"end\n"
	"-- (An iteration someone rewrote under another id is replaced, not counted again.)\n"
	"local was = (not fresh and h[4] == '1') and 1 or 0\n"
	"local done = count('items_done', fresh and 1 or 0)\n"
	"local passed = count('items_passed', (ARGV[7] == '1' and 1 or 0) - was)\n"
	"emit(j, 'item', {'n', I(n), 'id', ARGV[6], 'passed', ARGV[7], 'summary', ARGV[9], 'worker', ARGV[5]})\n"
	"noted(j)\n"
	"return {'ok', done, passed}\n"
	LUA_EPILOGUE};

const lr_script lr_lua_bq_find = {"batch find", LUA_PRELUDE BATCH_PRELUDE
	"-- ARGV: P, worker, limit. The first open batch (oldest first) that another\n"
	"-- worker runs and that has an item nobody holds: {'ok', id, attempt, the\n"
	"-- worker running it}, or\n"
	"-- {'none', open batches}. Entries that are not running batch jobs go.\n"
	"local limit = arg_int(3, 1, 1000, 'limit')\n"
	"if ktype(BATCHES) ~= 'zset' then return {'none', 0} end\n"
	"for _, id in ipairs(redis.call('ZRANGE', BATCHES, 0, limit - 1)) do\n"
	"  local j = read_job(id)\n"
	"  if not j or j.broken or j.state ~= 'running' or j.kind ~= 'batch' then\n"
	"    redis.call('ZREM', BATCHES, id)\n"
	"  elseif j.worker ~= ARGV[2] and ktype(j.k .. ':todo') == 'zset' and\n"
	"      #redis.call('ZRANGEBYSCORE', j.k .. ':todo', '-inf', I(NOW), 'LIMIT', 0, 1) > 0 then\n"
	"    return {'ok', id, j.attempt, j.worker}\n"
	"  end\n"
	"end\n"
	"return {'none', redis.call('ZCARD', BATCHES)}\n"
	LUA_EPILOGUE};
/* clang-format on */
