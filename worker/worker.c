/* worker.c - the worker's loop: claim, run the kind's handler, record. */
#include "worker.h"

#include "batch_help.h"
#include "batch_run.h"
#include "clock.h"
#include "eval_static.h"
#include "heartbeat.h"
#include "job_ctx_int.h"
#include "kinds.h"
#include "log.h"
#include "queue.h"
#include "result_trim.h"
#include "session_held.h"
#include "trace.h"
#include "wk_metrics.h"

#include <stdlib.h>
#include <string.h>

/* Retry delays while Redis is away: a job's record is retried quickly (its
 * lease is running), taking the next job more patiently. */
#define WRITE_RETRY_MS     50
#define WRITE_RETRY_MAX_MS 1000
#define DOWN_RETRY_MS      100
#define DOWN_RETRY_MAX_MS  2000
/* How long a result or failure is retried while Redis is away, busy or
 * refusing writes. The fence, not this worker, decides whether it may still
 * land, so this is only a bound on trying. */
#define RECORD_PATIENCE_MS 120000
#define REPEAT_LOG_MS      30000

typedef struct wk {
	const wk_config *cfg;
	lr_q q; /* the connection, and cfg->keys */
	wk_hb *hb;
	sbx_pool *pool;
	const volatile sig_atomic_t *stop;
	long sessions_noted; /* the record's `sessions` as last written */
	lr_q_job next;       /* claimed by the last finish (lr_q_finish_next) */
	int has_next;
	int look; /* read the work stream without waiting, then help */
} wk;

/* Whether to try recording an outcome again: Redis was away, busy or
 * refusing writes (a maxmemory episode), for less than RECORD_PATIENCE_MS,
 * and no immediate stop was asked for. Renewals fail in such an episode too,
 * so the lease looking lost is no reason to give up: the fence tells. */
static int again(wk *w, int rc, const lr_err *err, int *tries, long long start)
{
	lr_q_trouble t = lr_q_classify(rc, err);

	if ((t != LR_Q_CONN && t != LR_Q_BUSY && t != LR_Q_OOM) || *w->stop >= 2 ||
	    lr_now_ms() - start > RECORD_PATIENCE_MS)
		return 0;
	if (*tries == 0)
		log_warn("%s; retrying", err->msg);
	lr_sleep_ms(lr_backoff_ms((*tries)++, WRITE_RETRY_MS, WRITE_RETRY_MAX_MS));
	return 1;
}

static void count_job(const lr_q_job *job, const char *outcome)
{
	const char *v[2] = {job->kind, outcome};

	lr_metric_inc(wk_m.jobs, 1, v);
}

/* Submission time from the job id ("<ms>-<seq>"), in seconds; 0 if unknown. */
static double submitted_s(const char *id)
{
	char *end = NULL;
	double ms = strtod(id, &end);

	return end != NULL && *end == '-' ? ms / 1000.0 : 0;
}

static void record_failure(wk *w, const lr_q_job *job, lr_q_fail_mode mode, const char *reason)
{
	lr_q_state outcome = LR_QS_NONE;
	long long start = lr_now_ms();
	int tries = 0;
	lr_err err;
	int rc;

	do {
		lr_err_clear(&err);
		rc = lr_q_fail(&w->q, job->id, job->attempt, mode, reason, &outcome, &err);
	} while (again(w, rc, &err, &tries, start));
	if (rc == 0) {
		/* As the metrics name them: retry, released, dead. */
		const char *what = outcome == LR_QS_RETRY_WAIT ? "retry"
		                   : outcome == LR_QS_QUEUED   ? "released"
		                                               : lr_q_state_name(outcome);

		log_info("job %s attempt %ld: %s -> %s", job->id, job->attempt, reason, what);
		count_job(job, what);
	} else
		log_warn("job %s attempt %ld: could not record '%s': %s", job->id, job->attempt,
		         reason, err.msg);
}

/* The sessions held, in the worker's record as soon as they change: the
 * claim routes cells by it (a worker at its limit gets no new session).
 * job: the job just run (or NULL), whose place reserved here the count now
 * holds (a count that did not change leaves it to the job's end). */
static void note_sessions(wk *w, const char *job)
{
	long n = (long)sh_count();

	lr_metric_set(wk_m.sessions_held, (double)n, NULL);
	if (n == w->sessions_noted)
		return;
	if (lr_q_note_sessions(&w->q, w->cfg->name, n, wk_hb_sessions(w->hb, n), job, NULL) == 0)
		w->sessions_noted = n;
}

/* The result recorded; with take_next the finish claims the next job too
 * (w->next), in the same round trip. A retry after a lost reply finishes
 * only: one lost claim at most, as with the claim's own lost reply. */
static int record_result(wk *w, const lr_q_job *job, lr_job_result *res, int take_next)
{
	long long start = lr_now_ms();
	size_t max = (size_t)(w->cfg->result_max_kb > 0 ? w->cfg->result_max_kb * 1024
	                                                : WK_RESULT_MAX_DEFAULT);
	lr_q_result rec;
	int tries = 0;
	lr_err err;
	int rc;

	lr_err_clear(&err);
	/* A batch lists every item, each item's report compacted already. */
	rc = res->result_json && strcmp(job->kind, "batch") != 0
	         ? wk_result_trim(&res->result_json, max, &err)
	         : 0;
	lr_trace_mark("w.trim");
	if (rc < 0)
		log_warn("job %s: %s; recording it whole", job->id, err.msg);
	else if (rc > 0)
		log_info("job %s: result compacted to %zu bytes", job->id,
		         strlen(res->result_json));
	rec.passed = res->passed;
	rec.result = res->result_json ? res->result_json : "{}";
	rec.error = res->error;
	rec.summary = res->summary;
	rec.nextra = res->nextra;
	rec.fields = (const char *const *)res->extra_names;
	rec.values = (const char *const *)res->extra_values;
	do {
		lr_err_clear(&err);
		if (take_next && tries == 0) {
			lr_q_claim next = {w->cfg->name, w->cfg->lease_ms, &w->next, 0};

			rc =
			    lr_q_finish_next(&w->q, job->id, job->attempt, &rec, NULL, &next, &err);
			w->has_next = next.got;
		} else {
			rc = lr_q_finish(&w->q, job->id, job->attempt, &rec, NULL, &err);
		}
	} while (again(w, rc, &err, &tries, start));
	lr_trace_mark("w.finish");
	if (rc == 0) {
		log_info("job %s attempt %ld: done, %s%s%s", job->id, job->attempt,
		         res->passed ? "passed" : "not passed", res->summary ? ": " : "",
		         res->summary ? res->summary : "");
		count_job(job, "done");
	} else
		log_warn("job %s attempt %ld: result not recorded: %s", job->id, job->attempt,
		         err.msg);
	return rc;
}

static void run_job(wk *w, const lr_q_job *job)
{
	lr_jobctx ctx;
	lr_job_result res;
	const lr_kind *kind;
	double started_s = lr_realtime_ms() / 1000.0;
	double run_from = lr_now_s();
	double sub = submitted_s(job->id);
	lr_err err;
	int rc;

	if (sub > 0 && started_s >= sub)
		lr_metric_observe1(wk_m.queue_wait, started_s - sub, job->kind);
	lr_metric_set(wk_m.busy, 1, NULL);
	memset(&ctx, 0, sizeof(ctx));
	memset(&res, 0, sizeof(res));
	lr_err_clear(&err);
	wk_hb_job(w->hb, job->id, job->attempt);
	log_info("job %s attempt %ld: %s", job->id, job->attempt, job->kind);
	if (w->cfg->fault_abort_marker && *w->cfg->fault_abort_marker &&
	    strstr(job->spec, w->cfg->fault_abort_marker) != NULL) {
		log_error("job %s: its spec holds the fault-injection marker; aborting the worker",
		          job->id);
		abort();
	}
	if (wk_fault_hold(w->cfg->fault_job_hold, w->stop))
		wk_fault_release(w->cfg->fault_job_hold);
	lr_trace_mark("w.start");
	if (lr_job_spec_parse(&ctx.spec, job->spec, job->spec_len, NULL, &err) < 0) {
		char reason[LR_ERR_MSG_MAX];

		snprintf(reason, sizeof(reason), "the worker cannot read the recorded spec: %s",
		         err.msg);
		record_failure(w, job, LR_Q_DEAD, reason);
		goto done;
	}
	kind = wk_kind_find(job->kind);
	if (kind == NULL) {
		char reason[LR_ERR_MSG_MAX];

		/* Perhaps another worker (a newer version) can: retry, and after
		 * max_attempts the job is dead with this reason. */
		snprintf(reason, sizeof(reason), "worker %s cannot run '%s' jobs", w->cfg->name,
		         job->kind);
		record_failure(w, job, LR_Q_RETRY, reason);
		goto done;
	}
	ctx.cfg = w->cfg;
	ctx.q = &w->q;
	ctx.hb = w->hb;
	ctx.pool = w->pool;
	ctx.job = job;
	ctx.stop = w->stop;
	lr_trace_mark("w.parse");
	rc = kind->run(&ctx, &res, &err);
	lr_trace_mark("w.run");
	note_sessions(w, job->id); /* before the outcome: whoever reads it sees the room */
	lr_metric_observe1(wk_m.run, lr_now_s() - run_from, job->kind);
	if (rc == 0) {
		/* The finish takes the next job along, unless work follows the
		 * answer (the next job's lease would run meanwhile) or the worker
		 * is stopping. (Its claim routes cells by the sessions this
		 * worker noted just above: note_sessions.) */
		int take_next = res.after == NULL && !*w->stop;

		if (record_result(w, job, &res, take_next) == 0 && res.after != NULL)
			res.after(&ctx, &res, res.after_arg); /* after the answer */
		lr_trace_mark("w.after");
	} else if (rc == LR_ECANCELED) {
		if (wk_hb_status(w->hb) == LR_ECANCELED) {
			log_info("job %s: cancelled", job->id);
			count_job(job, "cancelled");
		} else
			record_failure(w, job, LR_Q_RELEASE, "released: the worker shut down");
	} else if (rc == LR_ESTALE) {
		log_warn("job %s attempt %ld: abandoned: %s", job->id, job->attempt, err.msg);
		count_job(job, "abandoned");
	} else {
		record_failure(w, job, LR_Q_RETRY, err.msg);
	}
done:
	lr_metric_set(wk_m.busy, 0, NULL);
	lr_job_result_free(&res);
	lr_job_spec_free(&ctx.spec);
	wk_hb_idle(w->hb);
	lr_trace_end(job->kind);
}

/* A round of help with another worker's batch: the items claimed (0 when
 * there was nothing to help with). */
static size_t help(wk *w)
{
	size_t n = 0;
	lr_err err;

	lr_err_clear(&err);
	if (wk_batch_help(&w->q, w->cfg, w->pool, w->hb, w->stop, &n, &err) < 0)
		log_warn("helping with a batch: %s", err.msg);
	return n;
}

int wk_run(const wk_config *cfg, const volatile sig_atomic_t *stop, lr_err *err)
{
	wk w;
	lr_log_repeat trouble;
	char msg[256] = "";
	int down = 0;
	int groups_ok = 0;
	int rc;

	memset(&w, 0, sizeof(w));
	memset(&trouble, 0, sizeof(trouble));
	w.cfg = cfg;
	w.q.k = &cfg->keys;
	w.stop = stop;
	if (cfg->pool && sbx_pool_start(&w.pool, &cfg->sbx, msg, sizeof(msg)) < 0)
		return lr_err_set(err, LR_EUNAVAIL, "the sandbox pool did not start: %s", msg);
	/* Started before or beside Redis: wait for it (--redis-start-wait). */
	rc = lr_redis_open_wait(&w.q.r, &cfg->redis, "the job queue", stop, err);
	if (rc == 0)
		rc = wk_hb_start(&w.hb, cfg, stop, err);
	if (rc == LR_ECANCELED)
		rc = 0; /* stopped while waiting */
	if (rc < 0 || *stop)
		goto cleanup;
	/* A stop ends the wait for a job at once (the read returns what it has). */
	lr_redis_stop_on(w.q.r, cfg->stop_fd);
	log_info("worker %s taking jobs from %sjobs at %s (lease %ld ms)", cfg->name,
	         cfg->keys.prefix, lr_redis_where(w.q.r), cfg->lease_ms);
	while (!*stop) {
		lr_q_job job;
		int got = 0;

		rc = 0;
		lr_trace_begin("job");
		if (w.has_next) { /* claimed by the last job's finish */
			job = w.next;
			w.has_next = 0;
			got = 1;
		} else if (!groups_ok) {
			rc = lr_q_ensure_groups(&w.q, err);
			groups_ok = rc == 0;
		}
		/* After a job or a round of help, look for the next job without
		 * waiting: when none waits, help with an open batch (batch_help.h). */
		if (rc == 0 && !got) {
			lr_q_claim c = {cfg->name, cfg->lease_ms, &job, 0};

			rc = lr_q_next(&w.q, w.look ? -1 : cfg->block_ms, &c, err);
			got = c.got;
		}
		if (rc < 0) {
			/* Whatever went wrong, the worker keeps trying: it never
			 * stops taking jobs while it runs, and says why it cannot. */
			lr_q_trouble t = lr_q_classify(rc, err);
			char problem[400];

			if (t == LR_Q_CONN || t == LR_Q_NOGROUP || t == LR_Q_DATA)
				groups_ok = 0;
			snprintf(problem, sizeof(problem), "cannot take jobs (%s): %s",
			         lr_q_trouble_name(t), err->msg);
			lr_log_repeated(&trouble, t == LR_Q_CONN ? LR_LOG_WARN : LR_LOG_ERROR,
			                REPEAT_LOG_MS, "%s; retrying", problem);
			wk_hb_problem(w.hb, problem);
			lr_sleep_ms(lr_backoff_ms(down++, DOWN_RETRY_MS, DOWN_RETRY_MAX_MS));
			continue;
		}
		if (lr_log_repeat_end(&trouble)) {
			log_info("taking jobs again");
			wk_hb_problem(w.hb, NULL);
		}
		down = 0;
		sh_sweep();
		note_sessions(&w, NULL);
		if (!got) {
			w.look = cfg->batch_share && help(&w) > 0;
			continue;
		}
		run_job(&w, &job);
		lr_q_job_free(&job);
		note_sessions(&w, NULL);
		w.look = cfg->batch_share;
	}
	if (w.has_next) { /* claimed by the last finish as the stop came */
		record_failure(&w, &w.next, LR_Q_RELEASE, "released: the worker shut down");
		lr_q_job_free(&w.next);
	}
	rc = 0;
	log_info("worker %s stopping", cfg->name);
cleanup:
	sh_clear();
	wk_hb_stop(w.hb);
	lr_redis_close(w.q.r);
	wk_batch_help_free();
	br_stop();
	eval_static_stop();
	sbx_pool_free(w.pool);
	return rc;
}
