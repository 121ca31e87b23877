/* session_held.h - the REPL sessions whose interpreter this worker keeps.
 *
 * A session's truth is its record on Redis (session_store.h); a held
 * interpreter is a cache of it: a sandboxed python (sbx_held) that has run
 * exactly the session's first `ncells` recorded cells (the record only
 * grows). A cell of a held session runs in it after the recorded cells it
 * has not run yet (none when this worker ran the last one); a session held
 * nowhere starts a fresh interpreter and replays the whole record first. At most
 * wk_config.sessions_held are kept: that is the worker's limit of sessions,
 * and no held session is ended to make room for another (the cell that
 * would need one more is refused, kind_session.c); one unused for its
 * session's idle timeout is ended. Main thread only. */
#ifndef LLMREPL_SESSION_HELD_H
#define LLMREPL_SESSION_HELD_H

#include "sbx.h"

#include <stddef.h>

typedef struct sh_entry {
	char id[64];
	sbx_held *h;
	size_t ncells;     /* recorded cells it has run */
	long long used_ms; /* last use (monotonic ms) */
	long long idle_ms; /* the session's idle timeout */
} sh_entry;

/* The held interpreter of session id when it has run at most ncells cells
 * (the caller replays the rest), else NULL (one that ran more, a cell the
 * record does not have, or died, is ended). */
sh_entry *sh_find(const char *id, size_t ncells);
/* Keep h for session id (a held one of the same session is ended first).
 * NULL when max are held already (h is then ended). */
sh_entry *sh_keep(const char *id, sbx_held *h, size_t ncells, long long idle_ms, long max);
/* End the held interpreter of session id, if any. */
void sh_drop(const char *id);
/* End those unused for their idle timeout. */
void sh_sweep(void);
/* End all (the worker stops). */
void sh_clear(void);
/* How many are held (metrics, the worker's record). */
size_t sh_count(void);
/* Are max held? */
int sh_full(long max);
/* The session id of the i-th held interpreter (0 .. sh_count() - 1). */
const char *sh_id_at(size_t i);

#endif
