/* batch_lua.h - the scripts of batch jobs' shared items (batch_lua.c); only
 * common/batch_q.c runs them. */
#ifndef LLMREPL_BATCH_LUA_H
#define LLMREPL_BATCH_LUA_H

#include "redis.h"

extern const lr_script lr_lua_bq_open;
extern const lr_script lr_lua_bq_claim;
extern const lr_script lr_lua_bq_record;
extern const lr_script lr_lua_bq_find;

#endif
