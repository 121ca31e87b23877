/* eval.c - one evaluation: build the harness's request, run it in the sandbox,
 * judge the answer (eval_report.c). */
#include "eval.h"

#include "eval_int.h"
#include "eval_io.h"
#include "eval_report.h"
#include "eval_static.h"
#include "json.h"
#include "clock.h"
#include "trace.h"
#include "wk_metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Time the harness keeps for itself: starting (a cold interpreter imports
 * the static tools), writing its answer, and the sandbox tearing down. */
#define MARGIN_MIN_S        0.25
#define MARGIN_SHARE        0.10
#define COLD_START_S        0.6
#define TEST_TIMEOUT_MAX_S  3.0
#define STATIC_BUDGET_MAX_S 5.0 /* as the harness's own static_budget_s */

void eval_request_default(eval_request *r)
{
	memset(r, 0, sizeof(*r));
	sbx_limits_default(&r->limits);
	r->static_checks = 1;
}

void eval_request_from_spec(eval_request *r, const lr_job_spec *s, const char *code)
{
	eval_request_default(r);
	r->code = code;
	r->tests = s->tests;
	r->io = s->io;
	r->entry_point = s->entry_point;
	r->criteria = s->has_criteria ? &s->criteria : NULL;
	r->limits.timeout_s = s->timeout_s;
	r->limits.memory_mb = s->memory_mb;
	r->static_checks = s->static_checks;
	r->isolate = s->isolate;
}

/* The limits with every zero field replaced by the sandbox's default. */
static void effective_limits(sbx_limits *out, const sbx_limits *in)
{
	sbx_limits d;

	sbx_limits_default(&d);
	*out = *in;
	if (out->timeout_s <= 0)
		out->timeout_s = d.timeout_s;
	if (out->memory_mb <= 0)
		out->memory_mb = d.memory_mb;
	if (out->output_max == 0)
		out->output_max = d.output_max;
}

static double budget_for(double timeout_s, int cold)
{
	double margin = fmax(MARGIN_MIN_S, timeout_s * MARGIN_SHARE) + (cold ? COLD_START_S : 0);
	double b = timeout_s - margin;

	return b >= 0.2 ? b : fmax(0.1, timeout_s * 0.5);
}

void eval_sandbox_config(sbx_config *sc)
{
	const char *v = getenv("LLMREPL_SPLIT");

	sc->peer = !(v != NULL && strcmp(v, "0") == 0);
}

/* The code's process under a split gets the run's limits: [cpu_s,
 * memory_mb, processes, file_size_mb, files]. */
static json_object *candidate_limits(const sbx_limits *lim)
{
	sbx_limits d;
	json_object *a = json_object_new_array();
	long v[5];

	sbx_limits_default(&d);
	v[0] = (long)ceil(lim->cpu_s > 0 ? lim->cpu_s : ceil(lim->timeout_s) + 1);
	v[1] = lim->memory_mb > 0 ? lim->memory_mb : d.memory_mb;
	v[2] = lim->max_procs > 0 ? lim->max_procs : d.max_procs;
	v[3] = lim->file_size_mb > 0 ? lim->file_size_mb : d.file_size_mb;
	v[4] = lim->max_files > 0 ? lim->max_files : d.max_files;
	for (int i = 0; a != NULL && i < 5; i++)
		if (json_object_array_add(a, json_object_new_int64(v[i] > 0 ? v[i] : 1)) < 0) {
			json_object_put(a);
			a = NULL;
		}
	return a;
}

json_object *eval_request_json(const eval_request *req, const sbx_limits *lim, double budget,
                               double test_timeout, int isolate, int split)
{
	json_object *o = json_object_new_object();
	const char *doctests = req->doctests > 0 ? "always" : req->doctests < 0 ? "never" : "auto";
	int rc;

	if (o == NULL)
		return NULL;
	rc = lr_json_set_str(o, "mode", "evaluate");
	rc |= lr_json_set_str(o, "code", req->code);
	rc |= lr_json_set_str(o, "tests", req->tests);
	rc |= lr_json_set_str(o, "entry_point",
	                      req->entry_point && *req->entry_point ? req->entry_point : NULL);
	rc |= lr_json_set_bool(o, "static", req->static_checks != 0);
	rc |= lr_json_set_str(o, "doctests", doctests);
	rc |= lr_json_set_str(o, "stdin", req->stdin_text ? req->stdin_text : "");
	rc |= lr_json_set_num(o, "budget_s", budget);
	rc |= lr_json_set_num(o, "test_timeout_s", test_timeout);
	rc |= lr_json_set_int(o, "max_output", (long)lim->output_max);
	rc |= lr_json_set_int(o, "max_code_bytes", (long)EVAL_CODE_MAX);
	rc |= lr_json_set_bool(o, "isolate", isolate);
	rc |= lr_json_set_bool(o, "split", split);
	if (split)
		rc |= lr_json_set_obj(o, "candidate_limits", candidate_limits(lim));
	/* The judge marks its answer final when nothing after it can change the
	 * outcome (sbx_limits.early_answer). */
	if (lim->early_answer)
		rc |= lr_json_set_bool(o, "final_mark", 1);
	if (req->session_ncells > 0) {
		json_object *cells = json_object_new_array();

		for (size_t i = 0; cells && i < req->session_ncells; i++)
			rc |= json_object_array_add(cells,
			                            json_object_new_string(req->session_cells[i]));
		rc |= lr_json_set_obj(o, "session_cells", cells);
	}
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static char *build_request(const eval_request *req, const sbx_limits *lim, double budget,
                           double test_timeout, int isolate, int split)
{
	json_object *o = eval_request_json(req, lim, budget, test_timeout, isolate, split);
	char *text = o ? lr_json_dump(o) : NULL;

	json_object_put(o);
	return text;
}

/* Code or tests over the size limit are judged without running anything: a
 * report written as the harness would have written it. */
static int judge_too_big(eval_outcome *out, const char *what, size_t size, const lr_criteria *crit,
                         const eval_judge_ctx *ctx, lr_err *err)
{
	json_object *a = json_object_new_object(), *e = json_object_new_object();
	sbx_result res;
	char msg[160];
	char *text = NULL;
	int tests = strcmp(what, "tests") == 0;
	int rc = LR_ENOMEM;

	memset(&res, 0, sizeof(res));
	snprintf(msg, sizeof(msg), "the %s %s %zu bytes, over the limit of %u", what,
	         tests ? "are" : "is", size, EVAL_CODE_MAX);
	if (a == NULL || e == NULL || lr_json_set_str(e, "type", "TooBig") ||
	    lr_json_set_str(e, "message", msg) ||
	    lr_json_set_str(e, "file", tests ? "tests" : "solution"))
		goto cleanup;
	rc = lr_json_set_obj(a, "error", e); /* takes e, even on failure */
	e = NULL;
	if (rc < 0 || lr_json_set_int(a, "harness", 1) ||
	    lr_json_set_str(a, "status", tests ? "bad_tests" : "too_big") ||
	    lr_json_set_int(a, "tests_total", 0) || lr_json_set_int(a, "tests_passed", 0) ||
	    lr_json_set_obj(a, "tests", json_object_new_array())) {
		rc = LR_ENOMEM;
		goto cleanup;
	}
	rc = LR_ENOMEM;
	text = lr_json_dump(a);
	if (text == NULL)
		goto cleanup;
	res.end = SBX_END_EXITED;
	res.answer = text;
	res.answer_len = strlen(text);
	rc = eval_judge(out, &res, crit, ctx, err);
cleanup:
	if (rc == LR_ENOMEM)
		lr_err_set(err, LR_ENOMEM, "out of memory");
	json_object_put(e);
	json_object_put(a);
	free(text);
	return rc;
}

/* Whether a pooled split run may end at the judge's answer: yes, unless
 * LLMREPL_EARLY_ANSWER=0 (to compare, diagnostics). */
static int early_answers(void)
{
	const char *v = getenv("LLMREPL_EARLY_ANSWER");

	return v == NULL || strcmp(v, "0") != 0;
}

/* Where and how an evaluation's request runs: the same for each of its
 * runs (the retries too). */
typedef struct run_where {
	sbx_pool *pool;        /* NULL: a cold run */
	const sbx_config *cfg; /* a cold run's */
	const sbx_limits *lim;
	const eval_request *req;
	double budget;
} run_where;

/* One sandbox run of the request. A pooled split run may end at the judge's
 * answer, its end reaped beside what follows (sbx_limits.early_answer). */
static int run_once(sbx_result *res, const run_where *w, double test_timeout, int isolate,
                    int split, lr_err *err)
{
	sbx_pool *pool = w->pool;
	sbx_limits lim_early = *w->lim;
	const sbx_limits *lim = &lim_early;
	char *request;
	int rc;

	lim_early.early_answer = pool != NULL && split && early_answers();
	request = build_request(w->req, lim, w->budget, test_timeout, isolate, split);

	memset(res, 0, sizeof(*res));
	if (request == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	lr_trace_mark("e.request");
	if (pool != NULL)
		rc = sbx_pool_run(pool, res, lim, request, strlen(request));
	else
		rc = sbx_run(res, w->cfg, lim, request, strlen(request));
	lr_trace_mark("e.run");
	free(request);
	if (rc == 0)
		wk_metrics_sandbox(res);
	if (rc < 0 || res->end == SBX_END_ERROR)
		return lr_err_set(err, LR_EUNAVAIL, "sandbox: %s",
		                  res->detail[0] ? res->detail : "the run could not be started");
	return 0;
}

/* The harness's statuses that come before its static checks (nothing was
 * analysed, so nothing is added). */
static int before_static(const char *status)
{
	static const char *const st[] = {"too_big", "empty", "syntax_error", "bad_tests",
	                                 "bad_request"};

	for (size_t i = 0; status != NULL && i < sizeof(st) / sizeof(st[0]); i++)
		if (strcmp(status, st[i]) == 0)
			return 1;
	return status == NULL;
}

int eval_static_into(const sbx_result *res, json_object *st, double secs, json_object **ans,
                     lr_err *err)
{
	json_object *a = NULL, *m;
	lr_err perr;

	*ans = NULL;
	lr_err_clear(&perr);
	if (res->answer == NULL || lr_json_parse(&a, res->answer, res->answer_len, EVAL_ANSWER_MAX,
	                                         EVAL_ANSWER_DEPTH, &perr) < 0)
		return 0;
	if (!json_object_is_type(a, json_type_object) || before_static(lr_json_str(a, "status"))) {
		json_object_put(a);
		return 0;
	}
	m = lr_json_member(a, "metrics", json_type_object);
	if (lr_json_set_obj(a, "static", json_object_get(st)) < 0 ||
	    (m != NULL && lr_json_set_num(m, "static_s", secs) < 0)) {
		json_object_put(a);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	*ans = a;
	return 0;
}

/* Why an in-process run must be repeated isolated, or NULL: it left no
 * usable answer (a crash, a step it could not stop, the memory limit's kill,
 * the time limit). An output flood repeats the same way isolated, so it
 * stands. */
static const char *needs_isolation(const sbx_result *res, char *why, size_t len)
{
	const char *a = res->answer;
	size_t i = 0;

	switch (res->end) {
	case SBX_END_TIMEOUT: return "the in-process run hit the time limit";
	case SBX_END_MEMORY: return "the in-process run hit the memory limit";
	case SBX_END_SIGNALED:
		snprintf(why, len, "the in-process run was killed by signal %d", res->signal);
		return why;
	case SBX_END_EXITED: break;
	default: return NULL;
	}
	while (a && i < res->answer_len && (a[i] == ' ' || a[i] == '\n'))
		i++;
	if (a != NULL && i < res->answer_len && a[i] == '{')
		return NULL;
	snprintf(why, len, "the in-process run exited with status %d and no answer",
	         res->exit_code);
	return why;
}

/* Whether a split run's judge answered "unsplittable": the code would have
 * run in the judge's own process (its tests subclass the code's classes, or
 * there was no candidate factory), so it ran nothing. Only the judge writes
 * a split run's answer. */
static int unsplittable(const sbx_result *res)
{
	json_object *a = NULL;
	lr_err perr;
	int yes;

	/* Only an answer that names it is parsed here: every other one is
	 * parsed once, by the judging that follows. */
	if (res->end != SBX_END_EXITED || res->answer == NULL ||
	    memmem(res->answer, res->answer_len, "unsplittable", 12) == NULL ||
	    lr_json_parse(&a, res->answer, res->answer_len, EVAL_ANSWER_MAX, EVAL_ANSWER_DEPTH,
	                  &perr) < 0)
		return 0;
	yes = json_object_is_type(a, json_type_object) && lr_json_str(a, "status") != NULL &&
	      strcmp(lr_json_str(a, "status"), "unsplittable") == 0;
	json_object_put(a);
	return yes;
}

/* Whether the run's entry gave up before it read the request: it exits 125
 * with nothing written when it cannot join the run's cgroups (it never runs
 * outside the run's limits). The pool reports that as an error with the
 * cgroup and the errno ("NOJOIN", after one more try on a fresh server);
 * this catches an exit 125 that comes without that report. No code of the
 * candidate's had run, so this is the sandbox's failure, not the code's:
 * the job is tried again. */
static int entry_gave_up(const sbx_result *res)
{
	return res->end == SBX_END_EXITED && res->exit_code == 125 && res->answer_len == 0 &&
	       res->out_len == 0 && res->err_len == 0;
}

/* The run, and the isolated retry when the in-process run left no usable
 * answer (ctx->retried says why). */
static int run_judged(sbx_result *res, const run_where *w, eval_judge_ctx *ctx, char *retried,
                      size_t retried_len, lr_err *err)
{
	const eval_request *req = w->req;
	char why[128];
	const char *reason;
	int rc = run_once(res, w, ctx->test_timeout_s, req->isolate != 0, ctx->split, err);

	ctx->retried = NULL;
	if (rc == 0 && ctx->split && unsplittable(res)) {
		/* Nothing of the code's ran: again, in the code's own process, and
		 * known here to be so whatever the answer says (the code runs in
		 * the judge's process there and could write all of it). */
		sbx_result_free(res);
		ctx->split = 0;
		rc = run_once(res, w, ctx->test_timeout_s, req->isolate != 0, 0, err);
	}
	if (rc == 0 && !req->isolate && (reason = needs_isolation(res, why, sizeof(why)))) {
		snprintf(retried, retried_len, "%s", reason);
		sbx_result_free(res);
		rc = run_once(res, w, ctx->test_timeout_s, 1, ctx->split, err);
		ctx->retried = retried;
	}
	return rc;
}

void eval_prepare(sbx_limits *lim, eval_judge_ctx *ctx, double *budget, const eval_request *req,
                  const sbx_config *cfg, int cold)
{
	effective_limits(lim, &req->limits);
	*budget = budget_for(lim->timeout_s, cold);
	memset(ctx, 0, sizeof(*ctx));
	ctx->timeout_s = lim->timeout_s;
	ctx->memory_mb = lim->memory_mb;
	ctx->output_max = lim->output_max;
	ctx->split = cfg != NULL && cfg->peer;
	ctx->test_timeout_s = req->test_timeout_s > 0 ? fmin(req->test_timeout_s, *budget)
	                                              : fmin(TEST_TIMEOUT_MAX_S, *budget / 2);
}

double eval_static_budget(double budget)
{
	return fmin(STATIC_BUDGET_MAX_S, fmax(0.2, budget / 3));
}

int eval_run(eval_outcome *out, sbx_pool *pool, const sbx_config *cfg, const eval_request *req,
             lr_err *err)
{
	sbx_result res;
	sbx_limits lim;
	eval_judge_ctx ctx;
	eval_request local;
	eval_static_job sj;
	run_where w;
	json_object *st = NULL, *ans = NULL;
	double budget, started_s, st_s = 0, st_budget;
	size_t code_len, tests_len;
	char retried[160];
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&res, 0, sizeof(res));
	if (req == NULL || req->code == NULL)
		return lr_err_set(err, LR_EINVAL, "evaluation: no code given");
	effective_limits(&lim, &req->limits);
	if (req->io != NULL)
		return eval_io_run(out, pool, cfg, req, &lim, err);
	eval_prepare(&lim, &ctx, &budget, req, cfg, pool == NULL);
	code_len = strlen(req->code);
	tests_len = req->tests ? strlen(req->tests) : 0;
	if (code_len > EVAL_CODE_MAX)
		return judge_too_big(out, "code", code_len, req->criteria, &ctx, err);
	if (tests_len > EVAL_CODE_MAX)
		return judge_too_big(out, "tests", tests_len, req->criteria, &ctx, err);

	started_s = lr_now_s();
	/* The static checks in the static service when it answers (the run then
	 * skips them), else in the judge as part of the run. Once the service
	 * has answered in this process, it analyses while the sandbox runs (the
	 * two take the machine's two cores instead of one after the other); its
	 * first call, which starts it, comes before the run. */
	local = *req;
	memset(&sj, 0, sizeof(sj));
	st_budget = eval_static_budget(budget);
	/* Code run after a session's cells is checked with their names known,
	 * before the run. */
	if (req->static_checks &&
	    (req->session_ncells > 0
	         ? eval_static_run_cells(cfg, req->code, req->session_cells, req->session_ncells,
	                                 st_budget, &st, &st_s) >= 0
	         : (eval_static_begin(&sj, req->code, st_budget) == 0 ||
	            eval_static_run(cfg, req->code, st_budget, &st, &st_s) >= 0)))
		local.static_checks = 0;
	lr_trace_mark("e.static");
	/* The judge runs the tools itself (the service is off or down): the
	 * pool's server loads them once for every later run. */
	if (local.static_checks)
		sbx_pool_want(pool, SBX_WANT_STATIC);
	w = (run_where){pool, cfg, &lim, &local, budget};
	rc = run_judged(&res, &w, &ctx, retried, sizeof(retried), err);
	if (sj.started && eval_static_end(&sj, &st, &st_s) < 0 && rc == 0) {
		/* The service failed during the run, which skipped the tools: run
		 * again with the tools in the judge. */
		sbx_result_free(&res);
		local.static_checks = req->static_checks;
		sbx_pool_want(pool, SBX_WANT_STATIC);
		rc = run_judged(&res, &w, &ctx, retried, sizeof(retried), err);
	}
	/* Parsed once: the findings go into the parsed answer, which the
	 * judging reads as it is (not written out and parsed again). */
	if (rc == 0 && st != NULL)
		rc = eval_static_into(&res, st, st_s, &ans, err);
	json_object_put(st);
	if (rc == 0 && entry_gave_up(&res))
		rc = lr_err_set(err, LR_EUNAVAIL,
		                "sandbox: the run's entry exited 125 before reading its request "
		                "(it could not join the run's cgroups)");
	if (rc == 0)
		lr_metric_observe(wk_m.eval, lr_now_s() - started_s, NULL);
	lr_trace_mark("e.after");
	ctx.answer = ans;
	if (rc == 0)
		rc = eval_judge(out, &res, req->criteria, &ctx, err);
	lr_trace_mark("e.judge");
	json_object_put(ans);
	sbx_result_free(&res);
	return rc;
}
