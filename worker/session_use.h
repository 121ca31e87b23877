/* session_use.h - code tested on a REPL session's state (evaluate, generate
 * and loop jobs that name a `session`).
 *
 * The job reads the session's record and its evaluations run the recorded
 * cells first, in a fresh sandbox run of their own, in the code's globals
 * (sandbox/py/llmrepl_session.replay): on the code's side of the judge's
 * split, so the names the cells define are the code's, as unable to touch
 * the verdict as the code itself. Nothing is written to the session: its
 * record, its held interpreters and its history stay as they were. The
 * cells a job uses are fixed by its first attempt (the job hash's
 * `session_cells`), so a retried job tests on the same state. */
#ifndef LLMREPL_SESSION_USE_H
#define LLMREPL_SESSION_USE_H

#include "eval.h"
#include "job_ctx.h"
#include "session_store.h"

/* Load the session the job names (none: ss->exists = 0 and *why empty).
 * A session that is gone leaves *why saying so (the job is refused with it). */
int su_load(lr_jobctx *ctx, ss_session *ss, char *why, size_t len, lr_err *err);

/* Give the evaluation the session's cells and time to replay them. */
void su_apply(eval_request *r, const ss_session *ss);

/* The prompt's account of the session (malloc'd), or NULL when none: the
 * recorded cells, the newest kept when they are over max bytes. */
char *su_prompt_context(const ss_session *ss, size_t max);

typedef int (*su_handler)(lr_jobctx *ctx, lr_job_result *res, lr_err *err);

/* Run a kind's handler for a job that may name a session: without one, as
 * it is; with one, the session is loaded first (one gone ends the job with
 * passed 0 and the reason as its error, the handler not run) and is the
 * job's current session while the handler runs; the result gets the fields
 * `session` and `session_cells`. */
int su_run(lr_jobctx *ctx, lr_job_result *res, lr_err *err, su_handler run);

/* The running job's session (NULL: it names none), and its prompt text. */
const ss_session *su_current(lr_jobctx *ctx);
const char *su_current_prompt(lr_jobctx *ctx);

#endif
