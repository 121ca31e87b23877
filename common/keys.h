/* keys.h - where llm-repl keeps things in Redis.
 *
 * Every key starts with one configurable prefix (default "llmrepl:"), so
 * several deployments can share a Redis database. With prefix P:
 *
 *   P requests            stream  what users submit: field `spec`; entry id = job id
 *                                 (group `dispatchers`)
 *   P control             stream  operator requests: `cancel <job id>` (group `dispatchers`)
 *   P jobs                stream  queued jobs for workers: field `job` (group `workers`)
 *   P job:<id>            hash    the job's record (state, spec, attempt, result, ...)
 *   P job:<id>:events     stream  progress events, capped
 *   P job:<id>:it:<n>     hash    iteration n of a model-based job
 *   P job:<id>:todo       zset    a batch's items not recorded: index -> index, or claim expiry
 *   P job:<id>:claims     hash    a batch's claimed items: index -> worker
 *   P job:<id>:<aux>      any     auxiliary keys a job kind registered (git store)
 *   P leases              zset    running job -> lease expiry (ms, Redis clock)
 *   P delayed             zset    job waiting to retry -> due time (ms)
 *   P batches             zset    open batch jobs (shared with idle workers) -> opened (ms)
 *   P finished            zset    "<id> <bytes>" of each final job -> when it ended (ms);
 *                                 retention by size forgets the oldest first
 *   P dead                stream  dead letters, capped
 *   P workers             zset    worker name -> last heartbeat (ms)
 *   P worker:<name>       hash    what that worker is doing; expires when it stops
 *   P stats               hash    counters (see docs/protocol.md)
 *
 * The Lua scripts in common/queue_lua.c and common/batch_lua.c build the
 * same names from the same prefix; change them together. */
#ifndef LLMREPL_KEYS_H
#define LLMREPL_KEYS_H

#include "err.h"

#include <stddef.h>

#define LR_PREFIX_DEFAULT "llmrepl:"
#define LR_PREFIX_MAX     64
#define LR_JOB_ID_MAX     48  /* "<ms>-<seq>": two 64-bit numbers and a dash */
#define LR_KEY_MAX        256 /* enough for any key above with a worker name */

#define LR_GROUP_WORKERS     "workers"
#define LR_GROUP_DISPATCHERS "dispatchers"

typedef struct lr_keys {
	char prefix[LR_PREFIX_MAX + 1];
} lr_keys;

/* A prefix is 1..64 printable characters without spaces or braces (braces
 * would turn into cluster hash tags). NULL or "" means the default. */
int lr_keys_init(lr_keys *k, const char *prefix, lr_err *err);

/* `P<name>` for the fixed keys: "requests", "jobs", "control", "leases",
 * "delayed", "dead", "workers", "stats". Returns buf. */
const char *lr_key(const lr_keys *k, char buf[LR_KEY_MAX], const char *name);
/* `P job:<id>` */
const char *lr_key_job(const lr_keys *k, char buf[LR_KEY_MAX], const char *id);
/* `P job:<id>:<sub>` ("events", "it:3", ...) */
const char *lr_key_job_sub(const lr_keys *k, char buf[LR_KEY_MAX], const char *id, const char *sub);
/* `P worker:<name>` */
const char *lr_key_worker(const lr_keys *k, char buf[LR_KEY_MAX], const char *name);

/* A job id is a stream entry id: digits, '-', digits. */
int lr_job_id_valid(const char *id);

#endif
