/* heartbeat.h - the worker's heartbeat thread, on its own Redis connection
 * (a hiredis context is not thread-safe, and a blocking read on the main
 * connection must not delay a renewal).
 *
 * Every lease_ms / 3 it registers the worker (`P workers`, `P worker:<name>`)
 * and, while a job runs, renews the job's lease. When a renewal is refused it
 * learns that the job was cancelled or reclaimed; when Redis stays
 * unreachable for longer than the lease it assumes the job was reclaimed.
 * Either way lr_jobctx_check() then tells the handler to stop. */
#ifndef LLMREPL_HEARTBEAT_H
#define LLMREPL_HEARTBEAT_H

#include "worker.h"

typedef struct wk_hb wk_hb;

/* stop: the worker's shutdown flag; the thread notes when a drain begins. */
int wk_hb_start(wk_hb **out, const wk_config *cfg, const volatile sig_atomic_t *stop, lr_err *err);
/* Stop the thread, unregister the worker, free; accepts NULL. */
void wk_hb_stop(wk_hb *hb);

/* Start renewing the lease of this attempt (the claim set the first one). */
void wk_hb_job(wk_hb *hb, const char *id, long attempt);
/* Stop renewing (the job was finished or given back); counts it as done. */
void wk_hb_idle(wk_hb *hb);
/* Helping with another worker's batch job (batch_help.h), id's attempt,
 * run by owner: while the worker has no job of its own its record shows
 * that job in `job` and `attempt` and the owner in `helping` (the lease is
 * the owner's: not renewed here). id NULL: helping no more. */
void wk_hb_helping(wk_hb *hb, const char *id, long attempt, const char *owner);
/* Why the worker cannot make progress (it keeps trying), or NULL when it
 * can again: the record's `problem` field (and `problem_since`, seconds since
 * the epoch), which `llmrepl stats` shows. */
void wk_hb_problem(wk_hb *hb, const char *problem);
/* The REPL sessions the worker holds: the record's `sessions` (beside
 * `sessions_max`, its --sessions-held), which routes cells (lr_lua_claim).
 * Returns when they were counted (`sessions_at`): the main thread writes
 * them at once with that stamp (lr_q_note_sessions), and a beat that counted
 * before does not put its older count back. */
long long wk_hb_sessions(wk_hb *hb, long n);
/* 0 while the lease holds; LR_ECANCELED when the job was cancelled;
 * LR_ESTALE when the lease was lost. Any thread. */
int wk_hb_status(const wk_hb *hb);
/* A shutdown began more than drain_s ago. Any thread. */
int wk_hb_drain_over(const wk_hb *hb);

/* Testing: while `file` exists (and no stop is asked; stop may be NULL),
 * wait, with file.held there to say so; wk_fault_release() removes that.
 * Returns whether it waited (0 when file is NULL or empty). */
int wk_fault_hold(const char *file, const volatile sig_atomic_t *stop);
void wk_fault_release(const char *file);

#endif
