/* queue_lua.h - the scripts of the job protocol (see queue_lua.c and
 * docs/protocol.md). Only common/queue.c runs them. */
#ifndef LLMREPL_QUEUE_LUA_H
#define LLMREPL_QUEUE_LUA_H

#include "redis.h"

extern const lr_script lr_lua_intake;
extern const lr_script lr_lua_take;
extern const lr_script lr_lua_claim;
extern const lr_script lr_lua_renew;
extern const lr_script lr_lua_write;
extern const lr_script lr_lua_finish;
extern const lr_script lr_lua_finish_next;
extern const lr_script lr_lua_fail;
extern const lr_script lr_lua_reclaim;
extern const lr_script lr_lua_promote;
extern const lr_script lr_lua_orphans;
extern const lr_script lr_lua_cancel;
extern const lr_script lr_lua_heartbeat;
extern const lr_script lr_lua_gc;
extern const lr_script lr_lua_repair;
extern const lr_script lr_lua_retain;
extern const lr_script lr_lua_cb_take;
extern const lr_script lr_lua_cb_report;

#endif
