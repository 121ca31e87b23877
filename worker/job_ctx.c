/* job_ctx.c - the handler's view of a running job: fenced writes, stopping. */
#include "job_ctx_int.h"

#include "clock.h"
#include "log.h"
#include "result_trim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const reserved[] = {
    "id",       "kind",         "spec",        "spec_bytes",     "state",     "attempt",
    "failures", "max_attempts", "backoff_ms",  "backoff_max_ms", "ttl",       "events_max",
    "entry",    "worker",       "lease_until", "started",        "finished",  "final_attempt",
    "retry_at", "last_failure", "cancel",      "iterations",     "aux",       "passed",
    "result",   "error",        "summary",     "notes",          "submitted", "created",
    "updated",  NULL,
};

static int is_reserved(const char *f)
{
	for (size_t i = 0; reserved[i]; i++)
		if (strcmp(reserved[i], f) == 0)
			return 1;
	return 0;
}

static int field_ok(const char *f, lr_err *err)
{
	size_t n = f ? strlen(f) : 0;

	if (n == 0 || n > 64)
		return lr_err_set(err, LR_EINVAL, "job field names are 1..64 characters");
	if (is_reserved(f))
		return lr_err_set(err, LR_EINVAL, "job field '%s' is the protocol's own", f);
	return 0;
}

static int put_field(lr_job_result *res, const char *name, const char *value)
{
	char *v;
	size_t i;

	if (field_ok(name, NULL) < 0)
		return LR_EINVAL;
	for (i = 0; i < res->nextra; i++)
		if (strcmp(res->extra_names[i], name) == 0)
			break;
	if (i == res->nextra && i >= sizeof(res->extra_names) / sizeof(res->extra_names[0]))
		return LR_EINVAL;
	v = strdup(value ? value : "");
	if (v == NULL)
		return LR_ENOMEM;
	if (i == res->nextra) {
		res->extra_names[i] = strdup(name);
		if (res->extra_names[i] == NULL) {
			free(v);
			return LR_ENOMEM;
		}
		res->nextra++;
	} else {
		free(res->extra_values[i]);
	}
	res->extra_values[i] = v;
	return 0;
}

int lr_job_result_field(lr_job_result *res, const char *name, const char *value)
{
	if (res->field_err == 0)
		res->field_err = put_field(res, name, value);
	return res->field_err;
}

int lr_job_result_fieldf(lr_job_result *res, const char *name, const char *fmt, ...)
{
	char value[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	return lr_job_result_field(res, name, value);
}

void lr_job_result_free(lr_job_result *res)
{
	if (res == NULL)
		return;
	if (res->after_free != NULL)
		res->after_free(res->after_arg);
	free(res->result_json);
	free(res->error);
	free(res->summary);
	for (size_t i = 0; i < res->nextra; i++) {
		free(res->extra_names[i]);
		free(res->extra_values[i]);
	}
	memset(res, 0, sizeof(*res));
}

const char *lr_jobctx_id(const lr_jobctx *c)
{
	return c->job->id;
}

long lr_jobctx_attempt(const lr_jobctx *c)
{
	return c->job->attempt;
}

const lr_job_spec *lr_jobctx_spec(const lr_jobctx *c)
{
	return &c->spec;
}

const char *lr_jobctx_spec_json(const lr_jobctx *c)
{
	return c->job->spec;
}

sbx_pool *lr_jobctx_pool(lr_jobctx *c)
{
	return c->pool;
}

const sbx_config *lr_jobctx_sbx_config(const lr_jobctx *c)
{
	return &c->cfg->sbx;
}

const struct wk_config *lr_jobctx_config(const lr_jobctx *c)
{
	return c->cfg;
}

lr_q *lr_jobctx_q(lr_jobctx *c)
{
	return c->q;
}

int lr_jobctx_should_stop(const lr_jobctx *c)
{
	return wk_hb_status(c->hb) != 0 || *c->stop >= 2 || wk_hb_drain_over(c->hb);
}

int lr_jobctx_cancelled(const lr_jobctx *c)
{
	return wk_hb_status(c->hb) == LR_ECANCELED;
}

int lr_jobctx_check(lr_jobctx *c, lr_err *err)
{
	int st = wk_hb_status(c->hb);

	if (st == LR_ECANCELED)
		return lr_err_set(err, LR_ECANCELED, "job %s was cancelled", c->job->id);
	if (st == LR_ESTALE)
		return lr_err_set(err, LR_ESTALE, "job %s: attempt %ld lost its lease", c->job->id,
		                  c->job->attempt);
	if (lr_jobctx_should_stop(c))
		return lr_err_set(err, LR_ECANCELED, "the worker is shutting down");
	return 0;
}

int wk_ctx_write(lr_jobctx *c, const lr_q_ops *ops, lr_err *err)
{
	int rc;

	for (int tries = 0;; tries++) {
		rc = lr_q_write(c->q, c->job->id, c->job->attempt, ops, NULL, err);
		lr_q_trouble t = lr_q_classify(rc, err);

		/* Redis away, busy or refusing writes: try again while the lease
		 * may still be ours. */
		if ((t != LR_Q_CONN && t != LR_Q_BUSY && t != LR_Q_OOM) ||
		    wk_hb_status(c->hb) == LR_ESTALE || *c->stop >= 2)
			return rc;
		log_warn("job %s: %s; retrying the write", c->job->id, err->msg);
		lr_sleep_ms(lr_backoff_ms(tries, 50, 1000)); /* as worker.c's record writes */
	}
}

/* Write ops built with rc (0, or what building them returned), then free
 * them. */
static int send_ops(lr_jobctx *c, lr_q_ops *ops, int rc, lr_err *err)
{
	if (rc == 0)
		rc = wk_ctx_write(c, ops, err);
	else
		lr_err_set(err, rc, "out of memory");
	lr_q_ops_free(ops);
	return rc;
}

int lr_jobctx_setn(lr_jobctx *c, size_t n, const char *const *fields, const char *const *values,
                   const size_t *lens, lr_err *err)
{
	lr_q_ops *ops;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (field_ok(fields[i], err) < 0)
			return LR_EINVAL;
	ops = lr_q_ops_new();
	rc = ops ? lr_q_ops_set(ops, n, fields, values, lens) : LR_ENOMEM;
	return send_ops(c, ops, rc, err);
}

int lr_jobctx_set(lr_jobctx *c, const char *field, const char *value, lr_err *err)
{
	return lr_jobctx_setn(c, 1, &field, &value, NULL, err);
}

int lr_jobctx_iteration(lr_jobctx *c, long n, size_t nfields, const char *const *fields,
                        const char *const *values, const size_t *lens, const char *summary,
                        lr_err *err)
{
	static const char *const ef[] = {"n", "summary"};
	char num[24];
	const char *ev[2];
	lr_jobctx_extra x = {"iteration", 2, ef, ev, 0, NULL, NULL};

	snprintf(num, sizeof(num), "%ld", n);
	ev[0] = num;
	ev[1] = summary ? summary : "";
	return lr_jobctx_iteration_with(c, n, nfields, fields, values, lens, &x, err);
}

/* An iteration's (or batch item's) `report` as its hash keeps it:
 * compacted like the job's result (result_trim.h) when over the cap; a
 * loop's git history keeps it whole. *copy (malloc'd) and *at when it was. */
static int iter_report(const lr_jobctx *c, size_t nfields, const char *const *fields,
                       const char *const *values, const size_t *lens, size_t *at, char **copy)
{
	long kb = c->cfg && c->cfg->result_max_kb > 0 ? c->cfg->result_max_kb : 0;
	size_t max = kb ? (size_t)kb * 1024 : (size_t)WK_RESULT_MAX_DEFAULT;

	*copy = NULL;
	for (size_t i = 0; i < nfields; i++) {
		if (strcmp(fields[i], "report") != 0 || values[i] == NULL ||
		    (lens ? lens[i] : strlen(values[i])) <= max)
			continue;
		*copy = lens ? strndup(values[i], lens[i]) : strdup(values[i]);
		*at = i;
		return *copy == NULL || wk_result_trim(copy, max, NULL) < 0 ? LR_ENOMEM : 0;
	}
	return 0;
}

/* The values and lengths with the compacted report in place (vals, lv
 * malloc'd), or 0 to write them as they are. */
static int with_report(size_t nfields, const char *const *values, const size_t *lens, size_t at,
                       const char *report, const char ***vals, size_t **lv)
{
	*vals = calloc(nfields, sizeof(**vals));
	*lv = calloc(nfields, sizeof(**lv));
	if (*vals == NULL || *lv == NULL)
		return 0;
	for (size_t i = 0; i < nfields; i++) {
		(*vals)[i] = i == at ? report : values[i];
		(*lv)[i] = i == at ? strlen(report) : lens ? lens[i] : strlen(values[i]);
	}
	return 1;
}

int lr_jobctx_iteration_with(lr_jobctx *c, long n, size_t nfields, const char *const *fields,
                             const char *const *values, const size_t *lens,
                             const lr_jobctx_extra *x, lr_err *err)
{
	const char **vals = NULL;
	size_t *lv = NULL, at = 0;
	char *report = NULL;
	lr_q_ops *ops;
	int rc;

	if (n < 0)
		return lr_err_set(err, LR_EINVAL, "iteration numbers start at 0");
	for (size_t i = 0; i < x->nset; i++)
		if (field_ok(x->set_fields[i], err) < 0)
			return LR_EINVAL;
	if (iter_report(c, nfields, fields, values, lens, &at, &report) < 0)
		log_warn("job %s: out of memory compacting the report of %ld; keeping it whole",
		         c->job->id, n);
	if (report != NULL && with_report(nfields, values, lens, at, report, &vals, &lv)) {
		values = vals;
		lens = lv;
	}
	ops = lr_q_ops_new();
	rc = ops ? lr_q_ops_iter(ops, n, nfields, fields, values, lens) : LR_ENOMEM;
	if (rc == 0)
		rc = lr_q_ops_event(ops, x->event, x->nev, x->ev_fields, x->ev_values, NULL);
	if (rc == 0 && x->nset > 0)
		rc = lr_q_ops_set(ops, x->nset, x->set_fields, x->set_values, NULL);
	rc = send_ops(c, ops, rc, err);
	free(vals);
	free(lv);
	free(report);
	return rc;
}

int lr_jobctx_event(lr_jobctx *c, const char *type, const char *msg, lr_err *err)
{
	static const char *const ef[] = {"msg"};
	const char *ev[1] = {msg ? msg : ""};
	lr_q_ops *ops;
	int rc;

	if (type == NULL || *type == '\0' || strlen(type) > 32)
		return lr_err_set(err, LR_EINVAL, "event types are 1..32 characters");
	ops = lr_q_ops_new();
	rc = ops ? lr_q_ops_event(ops, type, 1, ef, ev, NULL) : LR_ENOMEM;
	return send_ops(c, ops, rc, err);
}

int lr_jobctx_aux_key(lr_jobctx *c, const char *suffix, lr_err *err)
{
	lr_q_ops *ops;
	size_t n = suffix ? strlen(suffix) : 0;
	int rc;

	if (n == 0 || n > 64 ||
	    strspn(suffix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                   "0123456789:_-") != n)
		return lr_err_set(err, LR_EINVAL,
		                  "auxiliary key suffixes are 1..64 of [A-Za-z0-9:_-]");
	ops = lr_q_ops_new();
	rc = ops ? lr_q_ops_aux(ops, suffix) : LR_ENOMEM;
	return send_ops(c, ops, rc, err);
}
