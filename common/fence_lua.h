/* fence_lua.h - the fence, one Lua source for every script that writes on a
 * worker's behalf (the job protocol's in queue_lua.c, the git store's).
 *
 * A worker may write only while the job hash has `state` = "running" and
 * `attempt` = its own attempt. lr_fence(job_key, stats_key, attempt) returns
 * nil when it may, else counts `total:stale_writes` in the stats hash and
 * returns {'stale', state or 'gone', attempt or '0'}: the reply the fenced
 * scripts hand back unchanged. */
#ifndef LLMREPL_FENCE_LUA_H
#define LLMREPL_FENCE_LUA_H

/* clang-format off */
#define LR_LUA_FENCE \
	"-- The fence: a worker may write only while the job is running its attempt.\n" \
	"local function lr_fence(job_key, stats_key, attempt)\n" \
	"  local h = redis.call('HMGET', job_key, 'state', 'attempt')\n" \
	"  if h[1] == 'running' and h[2] == attempt then return nil end\n" \
	"  redis.call('HINCRBY', stats_key, 'total:stale_writes', 1)\n" \
	"  return {'stale', h[1] or 'gone', h[2] or '0'}\n" \
	"end\n"
/* clang-format on */

#endif
