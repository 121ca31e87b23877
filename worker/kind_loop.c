/* kind_loop.c - the `loop` kind: generate, evaluate, then repair from the
 * evaluation's feedback until the criteria pass or the budget is spent, with
 * an optional refactor round once they pass. Every iteration is a commit in
 * the job's git history and a hash `job:<id>:it:<n>` with an event; a worker
 * that takes the job over after a crash resumes from the last commit.
 *
 * The decisions are loop_rules.c's; this file runs them and writes the
 * outcome: the accepted iteration tagged, optionally deployed (pushed to the
 * worker's configured remote), and the job's result. */
#include "clock.h"
#include "json.h"
#include "kinds.h"
#include "log.h"
#include "loop.h"
#include "wk_metrics.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void loop_run_free(loop_run *L)
{
	for (size_t i = 0; i < L->n; i++) {
		free(L->recs[i].summary);
		free(L->recs[i].refactor_reason);
	}
	free(L->recs);
	free(L->its);
	free(L->gen_tests);
	loop_store_close(L);
	loop_model_close(L);
	memset(L, 0, sizeof(*L));
}

static json_object *history_json(const loop_run *L)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr != NULL && i < L->n; i++) {
		json_object *o = json_object_new_object();
		int rc = o == NULL;

		rc = rc || lr_json_set_int(o, "n", (long)i);
		rc = rc || lr_json_set_str(o, "phase", loop_phase_name(L->its[i].phase));
		rc = rc || lr_json_set_bool(o, "passed", L->its[i].passed);
		rc = rc || lr_json_set_num(o, "score", L->its[i].score);
		rc = rc || lr_json_set_int(o, "tests_passed", L->its[i].tests_passed);
		rc = rc || lr_json_set_int(o, "tests_total", L->its[i].tests_total);
		rc = rc || lr_json_set_str(o, "summary", L->recs[i].summary);
		rc = rc || lr_json_set_str(o, "commit", L->recs[i].commit);
		if (rc || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

/* What became of the refactor round. */
static void refactor_status(const loop_run *L, long accepted, const char **status,
                            const char **reason)
{
	*status = "not_requested";
	*reason = NULL;
	if (!L->spec->refactor)
		return;
	for (size_t i = 0; i < L->n; i++)
		if (L->its[i].phase == LOOP_PHASE_REFACTOR) {
			*status = L->recs[i].refactor_kept ? "kept" : "rejected";
			*reason = L->recs[i].refactor_reason;
			return;
		}
	if (accepted < 0) {
		*status = "not_reached";
		*reason = "the code never passed";
	} else {
		*status = "skipped";
		*reason = L->stop_detail[0] ? L->stop_detail : "the budget was spent";
	}
}

/* Deployment: push the accepted commit to the worker's remote. */
static json_object *deploy(loop_run *L, const char *url)
{
	json_object *o = json_object_new_object();
	char ref[LR_JOB_ID_MAX + 32];
	lr_err e;
	int rc;

	if (o == NULL)
		return NULL;
	snprintf(ref, sizeof(ref), "refs/heads/llmrepl/%s", L->id);
	lr_err_clear(&e);
	rc = loop_store_push(L, url, ref, &e);
	if (rc < 0)
		log_warn("job %s: deployment to the configured remote failed: %s", L->id, e.msg);
	else
		log_info("job %s: accepted commit pushed to %s", L->id, ref);
	if (lr_json_set_str(o, "ref", ref) || lr_json_set_bool(o, "ok", rc == 0) ||
	    lr_json_set_str(o, "error", rc < 0 ? e.msg : NULL)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int finish(loop_run *L, lr_job_result *res, lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(L->ctx);
	loop_outcome o;
	json_object *hist = NULL, *dep = NULL;
	char *code = NULL, *report = NULL, *fsum = NULL, *ferr = NULL;
	char tag[GITSTORE_OID_HEX + 1] = "";
	int rc;

	memset(&o, 0, sizeof(o));
	o.accepted = loop_accepted(L->its, L->n);
	o.final_iteration = loop_final(L->its, L->n);
	o.iterations = (long)L->n;
	o.stop = L->stop;
	/* A refactor round that could not be run leaves the accepted code as it was. */
	if (o.accepted >= 0 && o.stop != LOOP_STOP_PASSED)
		o.stop = LOOP_STOP_PASSED;
	o.stop_detail = L->stop_detail[0] ? L->stop_detail : NULL;
	o.tokens_total = L->tokens_total;
	o.elapsed_s = loop_elapsed(L);
	refactor_status(L, o.accepted, &o.refactor, &o.refactor_reason);
	if (o.final_iteration >= 0) {
		rc = loop_store_load(L, o.final_iteration, &code, &report, err);
		if (rc < 0)
			goto cleanup;
		o.code = code;
		o.commit = L->recs[o.final_iteration].commit;
		fsum = loop_report_str(report, strlen(report), "summary");
		ferr = loop_report_str(report, strlen(report), "error");
	}
	res->summary = loop_outcome_summary(&o, fsum);
	if (o.accepted >= 0) {
		rc = loop_store_tag(L, o.accepted, res->summary, tag, err);
		if (rc < 0)
			goto cleanup;
		o.tag = tag;
		if (cfg->push_url != NULL && *cfg->push_url) {
			dep = deploy(L, cfg->push_url);
			o.deployed = dep;
		}
	}
	hist = history_json(L);
	o.history = hist;
	rc = loop_result_build(&res->result_json, report, &o, err);
	if (rc < 0)
		goto cleanup;
	res->passed = o.accepted >= 0;
	if (!res->passed) {
		char e[LR_ERR_MSG_MAX];

		snprintf(e, sizeof(e), "%s: %s", loop_stop_name(o.stop),
		         o.stop_detail ? o.stop_detail
		         : ferr        ? ferr
		                       : "the criteria were not met");
		res->error = strdup(e);
	}
	lr_job_result_field(res, "stop_reason", loop_stop_name(o.stop));
	lr_job_result_field(res, "code", code ? code : "");
	lr_job_result_fieldf(res, "score", "%.4f",
	                     o.final_iteration >= 0 ? L->its[o.final_iteration].score : 0.0);
	lr_job_result_fieldf(res, "final_iteration", "%ld", o.final_iteration);
	lr_job_result_fieldf(res, "tokens_total", "%ld", o.tokens_total);
	lr_job_result_fieldf(res, "accepted_iteration", "%ld", o.accepted);
	rc = lr_job_result_field(res, "commit", o.commit ? o.commit : "");
	if (rc == 0 && (res->summary == NULL || (!res->passed && res->error == NULL)))
		rc = LR_ENOMEM;
	if (rc < 0)
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
cleanup:
	json_object_put(hist);
	json_object_put(dep);
	free(code);
	free(report);
	free(fsum);
	free(ferr);
	return rc;
}

int wk_kind_loop(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	loop_run L;
	loop_next nx;
	int rc;

	memset(&L, 0, sizeof(L));
	L.ctx = ctx;
	L.spec = lr_jobctx_spec(ctx);
	L.id = lr_jobctx_id(ctx);
	L.attempt = lr_jobctx_attempt(ctx);
	L.budget.max_iterations = L.spec->max_iterations > 0 ? L.spec->max_iterations : 1;
	L.budget.wall_s = L.spec->budget_wall_s;
	L.budget.tokens = L.spec->budget_tokens;
	L.budget.sample = L.spec->strategy == LR_STRATEGY_SAMPLE;
	L.budget.auto_strategy = L.spec->strategy == LR_STRATEGY_AUTO;
	L.budget.refactor = L.spec->refactor;
	L.t0_ms = lr_now_ms();
	rc = loop_model_open(&L, err);
	if (rc == 0)
		rc = loop_store_open(&L, err);
	if (rc == 0)
		rc = loop_store_resume(&L, err);
	L.t0_ms = lr_now_ms(); /* resuming is not the job's work */
	while (rc == 0 && L.stop == LOOP_STOP_NONE) {
		rc = lr_jobctx_check(ctx, err);
		if (rc < 0)
			break;
		loop_decide(&nx, L.its, L.n, &L.budget, L.tokens_total, loop_elapsed(&L));
		if (nx.action == LOOP_ACT_STOP) {
			L.stop = nx.stop;
			if (nx.refactor_skipped)
				snprintf(L.stop_detail, sizeof(L.stop_detail),
				         "the budget was spent before the refactor round (%s)",
				         nx.stop == LOOP_STOP_PASSED ? "passed"
				                                     : loop_stop_name(nx.stop));
			break;
		}
		rc = loop_step(&L, &nx, err); /* may end the loop: model error, budget */
	}
	if (rc == 0) {
		rc = finish(&L, res, err);
		if (rc == 0)
			lr_metric_observe(wk_m.loop_iterations, (double)L.n, NULL);
	} else if (rc != LR_ECANCELED && rc != LR_ESTALE)
		log_warn("job %s attempt %ld: %s", L.id, L.attempt, err ? err->msg : "failed");
	loop_run_free(&L);
	return rc;
}
