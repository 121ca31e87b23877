/* job_ctx.h - how a job kind runs inside the worker.
 *
 * Job kinds are a table (worker/kinds.c): a name ("evaluate", "generate",
 * "refactor", "loop") and a handler. The worker claims a job, starts
 * renewing its lease on a heartbeat thread, parses the normalised spec and
 * calls the handler of the job's kind on the worker's main thread:
 *
 *     int my_kind(lr_jobctx *ctx, lr_job_result *res, lr_err *err);
 *
 * A handler reads its input from lr_jobctx_spec(), does its work, records
 * progress through the context, and fills `res`. Then it returns:
 *
 *   0             res holds the outcome; the worker finishes the job as `done`
 *                 with res->passed, res->result_json, res->error, res->summary
 *                 and res's extra fields, in one fenced write.
 *   LR_ECANCELED  it stopped because lr_jobctx_check() said so (the job was
 *                 cancelled, or the worker is shutting down: then the job is
 *                 released to another worker, not counted as a failure).
 *   LR_ESTALE     a write through the context was refused: this attempt is
 *                 over (the lease ran out and the job was reclaimed). Stop and
 *                 return at once; nothing more can be written.
 *   other < 0     the attempt failed for a reason outside the job (sandbox
 *                 would not start, model server down, Redis gone): err->msg
 *                 says why; the job is retried with backoff, and dead after
 *                 the job's max_attempts. A job that can never succeed (its
 *                 own input is the problem) is not a failure: return 0 with
 *                 res->passed = 0 and res->error set.
 *
 * Every write through the context is fenced: it succeeds only while the job
 * is `running` this attempt (see common/queue.h), so a worker that stalled,
 * lost its lease and woke up cannot overwrite what a newer attempt wrote. A
 * write that meets a Redis outage is retried until Redis is back or the lease
 * is lost. Writes are all or nothing.
 *
 * Delivery is at least once: a handler may run again for the same job after a
 * crash (a higher attempt number). Make writes idempotent: key iterations by
 * their number, and look at what an earlier attempt left (the iteration
 * hashes, the git history) to resume rather than repeat.
 *
 * Threads: the context and everything it hands out belong to the worker's
 * main thread, except lr_jobctx_should_stop(), which any thread may call. */
#ifndef LLMREPL_JOB_CTX_H
#define LLMREPL_JOB_CTX_H

#include "err.h"
#include "job.h"
#include "queue.h"
#include "sbx.h"

#include <stddef.h>

typedef struct lr_jobctx lr_jobctx;
struct wk_config;

/* What a handler hands back. Strings are malloc'd and owned by the result;
 * the worker frees them (lr_job_result_free). */
typedef struct lr_job_result {
	int passed;        /* the verdict: 1 accepted, 0 not */
	char *result_json; /* the report, a JSON object (the job's `result` field) */
	char *error;       /* the main failure in one line, or NULL */
	char *summary;     /* one line for people and commit messages, or NULL */
	/* Extra fields of the job hash written with the final state (e.g.
	 * "code", "stop_reason", "score"); add them with lr_job_result_field. */
	size_t nextra;
	char *extra_names[16];
	char *extra_values[16];
	int field_err; /* 0, or the first error adding a field: it stays set */
	/* Work that follows the answer: once the job is finished as done with
	 * this result, the worker calls after(ctx, res, after_arg) (its writes
	 * fenced on the attempt having finished the job: fence_lua.h); then, and
	 * in every case, after_free(after_arg) when set. Neither may be slow to
	 * start: the next job waits. */
	void (*after)(lr_jobctx *ctx, const struct lr_job_result *res, void *arg);
	void (*after_free)(void *arg);
	void *after_arg;
} lr_job_result;

/* Add or replace an extra field (copied). Reserved fields (see
 * lr_jobctx_set) are refused with LR_EINVAL; at most 16 fields. The first
 * error (LR_EINVAL, LR_ENOMEM) stays in res->field_err and every later call
 * does nothing and returns it, so a handler adds its fields one after
 * another and looks once:
 *   lr_job_result_field(res, "code", code);
 *   lr_job_result_fieldf(res, "score", "%.4f", score);
 *   if (res->field_err < 0) ... */
int lr_job_result_field(lr_job_result *res, const char *name, const char *value);
/* The same with the value formatted (it is cut at 255 bytes). */
int lr_job_result_fieldf(lr_job_result *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lr_job_result_free(lr_job_result *res); /* frees the members; accepts NULL */

/* ---- what the handler works on ------------------------------------------- */

const char *lr_jobctx_id(const lr_jobctx *c);
/* The attempt number: 1 for the first run, higher after a retry. */
long lr_jobctx_attempt(const lr_jobctx *c);
/* The validated spec, defaults and the operator's caps applied. */
const lr_job_spec *lr_jobctx_spec(const lr_jobctx *c);
/* The same as the normalised JSON document. */
const char *lr_jobctx_spec_json(const lr_jobctx *c);
/* The worker's sandbox: its pre-forked pool (NULL when the worker runs cold)
 * and host-side settings, as eval_run() takes them. */
sbx_pool *lr_jobctx_pool(lr_jobctx *c);
const sbx_config *lr_jobctx_sbx_config(const lr_jobctx *c);
/* The worker's settings (worker/worker.h), e.g. the model server. */
const struct wk_config *lr_jobctx_config(const lr_jobctx *c);
/* The worker's main Redis connection and key layout (q->r, q->k), for
 * modules that keep their own fenced data (the git store): check the job
 * hash's `attempt` against lr_jobctx_attempt() in the same script that
 * writes, and register the keys with lr_jobctx_aux_key() so they expire with
 * the job. */
lr_q *lr_jobctx_q(lr_jobctx *c);

/* ---- fenced writes --------------------------------------------------------- */

/* Set fields of the job hash `P job:<id>`. The protocol's own fields are
 * reserved and refused with LR_EINVAL: id, kind, spec, spec_bytes, state,
 * attempt, failures, max_attempts, backoff_ms, backoff_max_ms, ttl,
 * events_max, entry, worker, lease_until, started, finished, final_attempt,
 * retry_at, last_failure, cancel, iterations, aux, passed, result, error,
 * summary, notes, submitted, created, updated. Values are binary-safe (lens
 * may be NULL for C strings). */
int lr_jobctx_set(lr_jobctx *c, const char *field, const char *value, lr_err *err);
int lr_jobctx_setn(lr_jobctx *c, size_t n, const char *const *fields, const char *const *values,
                   const size_t *lens, lr_err *err);

/* Write iteration n (0..): the hash `P job:<id>:it:<n>` with these fields,
 * the job's `iterations` field (the highest n written), and an event
 * {type: iteration, n, summary}, all in one write. Writing the same n again
 * overwrites its fields (a retried attempt repeating an iteration). */
int lr_jobctx_iteration(lr_jobctx *c, long n, size_t nfields, const char *const *fields,
                        const char *const *values, const size_t *lens, const char *summary,
                        lr_err *err);

/* What goes with an iteration in the same write: an event of type `event`
 * with these fields, and fields of the job hash (not reserved ones). */
typedef struct lr_jobctx_extra {
	const char *event;
	size_t nev;
	const char *const *ev_fields;
	const char *const *ev_values;
	size_t nset;
	const char *const *set_fields;
	const char *const *set_values;
} lr_jobctx_extra;

/* lr_jobctx_iteration with its own event and job fields (a batch's items:
 * an `item` event and the running counts), all in one write. */
int lr_jobctx_iteration_with(lr_jobctx *c, long n, size_t nfields, const char *const *fields,
                             const char *const *values, const size_t *lens,
                             const lr_jobctx_extra *x, lr_err *err);

/* Append an event {type, msg} to `P job:<id>:events` (state, attempt and a
 * timestamp are added). Types used so far: progress (free text), iteration,
 * and the protocol's own queued, running, retry, lease_expired, released,
 * redelivered and the final states. Keep events small: they are for people
 * following a job, not for data (use fields or iterations for that). */
int lr_jobctx_event(lr_jobctx *c, const char *type, const char *msg, lr_err *err);

/* Declare a key `P job:<id>:<suffix>` (letters, digits, ':', '_', '-') that
 * belongs to the job and must expire with it, e.g. "git:objects". */
int lr_jobctx_aux_key(lr_jobctx *c, const char *suffix, lr_err *err);

/* ---- stopping ------------------------------------------------------------ */

/* 0 to go on; LR_ECANCELED when the job was cancelled or the worker must
 * stop (shutdown, after the drain period); LR_ESTALE when the lease was lost.
 * Call it between steps (before each model call, each iteration) and return
 * the code as it is. err says why. */
int lr_jobctx_check(lr_jobctx *c, lr_err *err);
/* The same as a flag, for polling from long operations on any thread. */
int lr_jobctx_should_stop(const lr_jobctx *c);
/* The job itself was cancelled (as opposed to the worker shutting down, when
 * a result already in hand is still worth recording). */
int lr_jobctx_cancelled(const lr_jobctx *c);

#endif
