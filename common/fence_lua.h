/* fence_lua.h - the fence, one Lua source for every script that writes on a
 * worker's behalf (the job protocol's in queue_lua.c, the git store's).
 *
 * A worker may write only while the job hash has `state` = "running" and
 * `attempt` = its own attempt. lr_fence(job_key, stats_key, attempt) returns
 * nil when it may, else counts `total:stale_writes` in the stats hash and
 * returns {'stale', state or 'gone', attempt or '0'}: the reply the fenced
 * scripts hand back unchanged. An attempt given as "N/done" may also write
 * once attempt N has finished the job as done (and only then: a later
 * attempt, a retry or a deleted job still refuses it): work that follows a
 * job's answer, such as a session cell's commit. */
#ifndef LLMREPL_FENCE_LUA_H
#define LLMREPL_FENCE_LUA_H

/* clang-format off */
#define LR_LUA_FENCE \
	"-- The fence: a worker may write only while the job is running its attempt.\n" \
	"local function lr_fence(job_key, stats_key, attempt)\n" \
	"  local h = redis.call('HMGET', job_key, 'state', 'attempt')\n" \
	"  local ok = h[1] == 'running'\n" \
	"  if string.sub(attempt, -5) == '/done' then\n" \
	"    attempt = string.sub(attempt, 1, -6)\n" \
	"    ok = ok or h[1] == 'done'\n" \
	"  end\n" \
	"  if ok and h[2] == attempt then return nil end\n" \
	"  redis.call('HINCRBY', stats_key, 'total:stale_writes', 1)\n" \
	"  return {'stale', h[1] or 'gone', h[2] or '0'}\n" \
	"end\n"
/* clang-format on */

#endif
