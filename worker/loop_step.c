/* loop_step.c - one iteration of the loop: ask the model (once, or n times
 * for a sample), evaluate the code in the sandbox, commit it with its report,
 * and record it in the iteration hash with an event. */
#include "kind_model.h"
#include "loop.h"
#include "session_use.h"

#include "clock.h"
#include "json.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one candidate: ask, then evaluate -------------------------------------- */

typedef struct cand {
	loop_answer a;
	char *report; /* the evaluation's report (or the no-code one) */
	char *error;  /* the evaluation's main failure, or NULL */
	char *summary;
	loop_iter it;
	double t_eval_ms;
} cand;

static void cand_free(cand *c)
{
	loop_answer_free(&c->a);
	free(c->report);
	free(c->error);
	free(c->summary);
	memset(c, 0, sizeof(*c));
}

static int evaluate(cand *c, loop_run *L, lr_err *err)
{
	const lr_job_spec *s = L->spec;
	eval_request req;
	eval_outcome out;
	long long t = lr_now_ms();
	int rc;

	eval_request_from_spec(&req, s, c->a.code);
	su_apply(&req, su_current(L->ctx));
	req.stop = wk_eval_stop;
	req.stop_arg = L->ctx;
	rc = eval_run(&out, lr_jobctx_pool(L->ctx), lr_jobctx_sbx_config(L->ctx), &req, err);
	c->t_eval_ms = (double)(lr_now_ms() - t);
	if (rc < 0)
		return rc; /* the sandbox could not run at all: the job is retried */
	c->report = out.result_json;
	c->error = out.error;
	c->summary = out.summary;
	out.result_json = out.error = out.summary = NULL;
	c->it.has_code = 1;
	c->it.passed = out.passed;
	c->it.score = out.score;
	c->it.tests_passed = out.tests_passed;
	c->it.tests_total = out.tests_total;
	c->it.code_hash = loop_code_hash(c->a.code);
	if (!out.passed && c->report != NULL &&
	    loop_failure_hash(&c->it.failure_hash, c->report, strlen(c->report)) < 0)
		c->it.failure_hash = 1;
	eval_outcome_free(&out);
	return 0;
}

static int run_candidate(cand *c, loop_run *L, loop_phase ph, const prompt *p, double temperature,
                         long seed, lr_err *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->it.phase = ph;
	rc = loop_ask(&c->a, L, p, temperature, seed, ph == LOOP_PHASE_REFACTOR, err);
	if (rc < 0)
		return rc;
	if (c->a.code == NULL) {
		rc = loop_report_no_code(&c->report, c->a.why_no_code, c->a.reply, err);
		c->error = strdup(c->a.why_no_code ? c->a.why_no_code : "no code");
		c->summary = strdup("no code in the model's reply");
		if (rc == 0 && (c->error == NULL || c->summary == NULL))
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		c->it.failure_hash = 1;
		return rc;
	}
	rc = lr_jobctx_check(L->ctx, err);
	if (rc == 0)
		rc = evaluate(c, L, err);
	if (rc == 0)
		rc = lr_jobctx_check(L->ctx, err); /* nothing to record for a stopped job */
	return rc;
}

/* ---- recording an iteration ---------------------------------------------------- */

typedef struct step_info {
	loop_phase phase;
	long base;
	long tokens_prompt, tokens_completion;
	double t_model_ms, t_eval_ms;
	json_object *candidates;
	const char *gen_tests; /* the generated tests that ranked the candidates */
	int refactor_kept;
	const char *refactor_reason;
	long long t_start;
} step_info;

/* The string member `key` of a report, clipped to LOOP_OUTPUT_MAX bytes. */
static char *capped(const char *report, const char *key)
{
	char *s = loop_report_str(report, strlen(report), key);

	if (s != NULL && strlen(s) > LOOP_OUTPUT_MAX) {
		size_t n = LOOP_OUTPUT_MAX;

		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 sequence */
		s[n] = '\0';
	}
	return s;
}

static char *commit_summary(const cand *c, const step_info *si)
{
	char buf[600];
	const char *sm = c->summary && *c->summary ? c->summary : "evaluated";

	if (si->phase == LOOP_PHASE_REFACTOR)
		snprintf(buf, sizeof(buf), "refactor %s: %s",
		         si->refactor_kept ? "kept" : "rejected",
		         si->refactor_kept ? sm : si->refactor_reason);
	else
		snprintf(buf, sizeof(buf), "%s: %s", loop_phase_name(si->phase), sm);
	return strdup(buf);
}

/* What recording an iteration made, for its hash. */
typedef struct recorded {
	const char *report; /* the report JSON */
	const char *summary;
	const char *commit; /* its commit's oid */
	double t_commit_ms;
	long tokens_total; /* the job's, with this iteration's */
} recorded;

static int write_hash(loop_run *L, long n, const cand *c, const step_info *si, const recorded *r,
                      lr_err *err)
{
	enum { NF = 36 };
	const char *f[NF], *v[NF];
	char nums[20][32];
	char *out = capped(c->report, "stdout"), *errs = capped(c->report, "stderr");
	char *cands = si->candidates ? lr_json_dump(si->candidates) : NULL;
	size_t k = 0, m = 0;
	int rc;

#define NUM(name, fmt, val)                                                                        \
	do {                                                                                       \
		snprintf(nums[m], sizeof(nums[m]), fmt, val);                                      \
		f[k] = name;                                                                       \
		v[k++] = nums[m++];                                                                \
	} while (0)
#define STR(name, val)                                                                             \
	do {                                                                                       \
		f[k] = name;                                                                       \
		v[k++] = (val) ? (val) : "";                                                       \
	} while (0)

	NUM("n", "%ld", n);
	STR("phase", loop_phase_name(si->phase));
	NUM("attempt", "%ld", L->attempt);
	NUM("base", "%ld", si->base);
	STR("code", c->a.code);
	STR("report", r->report);
	STR("stdout", out);
	STR("stderr", errs);
	STR("commit", r->commit);
	STR("passed", c->it.passed ? "1" : "0");
	NUM("score", "%.4f", c->it.score);
	NUM("tests_passed", "%d", c->it.tests_passed);
	NUM("tests_total", "%d", c->it.tests_total);
	STR("summary", r->summary);
	STR("error", c->error);
	NUM("tokens_prompt", "%ld", si->tokens_prompt);
	NUM("tokens_completion", "%ld", si->tokens_completion);
	NUM("tokens", "%ld", si->tokens_prompt + si->tokens_completion);
	NUM("tokens_total", "%ld", r->tokens_total);
	NUM("t_model_ms", "%.1f", si->t_model_ms);
	NUM("t_eval_ms", "%.1f", si->t_eval_ms);
	NUM("t_commit_ms", "%.1f", r->t_commit_ms);
	STR("model", c->a.model);
	STR("finish_reason", c->a.finish_reason);
	STR("extract", c->a.extract);
	NUM("usage_dropped", "%d", c->a.usage_dropped);
	if (cands)
		STR("candidates", cands);
	if (si->gen_tests)
		STR("generated_tests", si->gen_tests);
	if (si->phase == LOOP_PHASE_REFACTOR) {
		STR("refactor", si->refactor_kept ? "kept" : "rejected");
		STR("refactor_reason", si->refactor_reason);
	}
	NUM("t_ms", "%.1f", (double)(lr_now_ms() - si->t_start));
	NUM("elapsed_s", "%.3f", loop_elapsed(L));
#undef NUM
#undef STR
	rc = lr_jobctx_iteration(L->ctx, n, k, f, v, NULL, r->summary, err);
	free(out);
	free(errs);
	free(cands);
	return rc;
}

/* Commit the candidate as the next iteration and record it. */
static int record(loop_run *L, cand *c, const step_info *si, lr_err *err)
{
	long n = (long)L->n;
	loop_meta m;
	char oid[GITSTORE_OID_HEX + 1];
	char *report = NULL, *summary = NULL;
	recorded rec;
	long long t;
	int existed = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	m.iteration = n;
	m.phase = si->phase;
	m.attempt = L->attempt;
	m.base = si->base;
	m.has_code = c->it.has_code;
	m.code_hash = c->it.code_hash;
	m.failure_hash = c->it.passed ? 0 : c->it.failure_hash;
	m.tokens_prompt = si->tokens_prompt;
	m.tokens_completion = si->tokens_completion;
	m.tokens_total = L->tokens_total + si->tokens_prompt + si->tokens_completion;
	m.elapsed_s = loop_elapsed(L);
	m.t_model_ms = si->t_model_ms;
	m.t_eval_ms = si->t_eval_ms;
	m.model = c->a.model;
	m.finish_reason = c->a.finish_reason;
	m.extract = c->a.extract;
	m.usage_dropped = c->a.usage_dropped;
	m.early_stop = c->a.early_stop;
	m.stopped_at = c->a.stopped_at;
	m.candidates = si->candidates;
	m.refactor_kept = si->refactor_kept;
	m.refactor_reason = si->refactor_reason;
	rc = loop_report_build(&report, c->report, &m, err);
	if (rc < 0)
		goto cleanup;
	summary = commit_summary(c, si);
	if (summary == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	c->it.phase = si->phase;
	t = lr_now_ms();
	rc = loop_store_commit(L, n, c->a.code, report, summary, oid, &existed, err);
	if (rc < 0)
		goto cleanup;
	if (existed)
		log_info("job %s: iteration %ld was already committed (%s)", L->id, n, oid);
	rec = (recorded){report, summary, oid, (double)(lr_now_ms() - t), m.tokens_total};
	rc = write_hash(L, n, c, si, &rec, err);
	if (rc < 0)
		goto cleanup;
	rc = loop_push_iter(L, &c->it, oid, summary, si->refactor_kept, si->refactor_reason);
	summary = NULL;
	if (rc < 0) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	L->tokens_total = m.tokens_total;
cleanup:
	free(report);
	free(summary);
	return rc;
}

/* ---- the steps ---------------------------------------------------------------- */

static void progress(loop_run *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void progress(loop_run *L, const char *fmt, ...)
{
	char msg[200];
	lr_err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Best effort: a refused write shows up at the next fenced write. */
	lr_err_clear(&e);
	lr_jobctx_event(L->ctx, "progress", msg, &e);
}

/* A model failure that ends the loop rather than the attempt. */
static int model_stop(loop_run *L, int rc, lr_err *err)
{
	if (rc == LR_EINVAL) {
		L->stop = LOOP_STOP_MODEL_ERROR;
		snprintf(L->stop_detail, sizeof(L->stop_detail), "%s",
		         err ? err->msg : "model error");
		return 0;
	}
	if (rc == LR_ETIMEOUT) {
		L->stop = LOOP_STOP_BUDGET_WALL;
		snprintf(L->stop_detail, sizeof(L->stop_detail), "%s",
		         err ? err->msg : "the wall-clock budget ran out");
		return 0;
	}
	return rc;
}

/* The code and feedback of iteration `base`. */
static int base_of(loop_run *L, long base, char **code, char **feedback, char **report, lr_err *err)
{
	int rc;

	*code = *feedback = *report = NULL;
	rc = loop_store_load(L, base, code, report, err);
	if (rc == 0)
		*feedback = loop_report_str(*report, strlen(*report), "feedback");
	return rc;
}

static int step_single(loop_run *L, const loop_next *nx, lr_err *err)
{
	const lr_job_spec *s = L->spec;
	prompt_input in;
	prompt p;
	cand c;
	step_info si;
	char *code = NULL, *feedback = NULL, *report = NULL, *review = NULL;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&p, 0, sizeof(p));
	memset(&c, 0, sizeof(c));
	memset(&si, 0, sizeof(si));
	si.t_start = lr_now_ms();
	si.base = nx->base;
	si.phase = nx->action == LOOP_ACT_REPAIR     ? LOOP_PHASE_REPAIR
	           : nx->action == LOOP_ACT_REFACTOR ? LOOP_PHASE_REFACTOR
	                                             : LOOP_PHASE_GENERATE;
	in.task = s->prompt;
	in.entry_point = L->entry_point;
	in.tests = s->show_tests ? (s->io ? L->io_examples : s->tests) : NULL;
	in.program = s->io != NULL;
	in.session = su_current_prompt(L->ctx);
	if (si.phase != LOOP_PHASE_GENERATE) {
		rc = base_of(L, nx->base, &code, &feedback, &report, err);
		if (rc < 0)
			goto cleanup;
		in.code = code;
		in.feedback = feedback;
	}
	if (si.phase == LOOP_PHASE_REFACTOR) {
		rc = loop_review(&review, report, strlen(report), err);
		if (rc < 0)
			goto cleanup;
		in.feedback = review;
		rc = prompt_refactor(&p, &in, err);
	} else if (si.phase == LOOP_PHASE_REPAIR) {
		rc = prompt_repair(&p, &in, err);
	} else {
		rc = prompt_generate(&p, &in, err);
	}
	if (rc < 0)
		goto cleanup;
	progress(L, "iteration %zu: %s: asking the model", L->n, loop_phase_name(si.phase));
	rc = run_candidate(&c, L, si.phase, &p, L->temperature, -1, err);
	if (rc < 0) {
		rc = model_stop(L, rc, err);
		goto cleanup;
	}
	si.tokens_prompt = c.a.tokens_prompt;
	si.tokens_completion = c.a.tokens_completion;
	si.t_model_ms = c.a.t_model_ms;
	si.t_eval_ms = c.t_eval_ms;
	if (si.phase == LOOP_PHASE_REFACTOR) {
		char why[300];

		si.refactor_kept = c.it.passed && c.it.code_hash != L->its[nx->base].code_hash;
		c.it.rejected = !si.refactor_kept;
		if (si.refactor_kept)
			snprintf(why, sizeof(why), "every test still passes (score %.2f, was %.2f)",
			         c.it.score, L->its[nx->base].score);
		else if (c.it.passed)
			snprintf(why, sizeof(why), "the model returned the same code");
		else if (!c.it.has_code)
			snprintf(why, sizeof(why), "the reply had no code");
		else
			snprintf(why, sizeof(why), "the refactored code does not pass: %.250s",
			         c.error ? c.error : "it fails the criteria");
		si.refactor_reason = why;
		rc = record(L, &c, &si, err);
	} else {
		rc = record(L, &c, &si, err);
	}
cleanup:
	cand_free(&c);
	prompt_free(&p);
	free(code);
	free(feedback);
	free(report);
	free(review);
	return rc;
}

static json_object *candidate_json(const cand *c, int i, int chosen, const uint64_t *gen)
{
	json_object *o = json_object_new_object();
	size_t len = c->a.code ? strlen(c->a.code) : 0;
	int rc;

	if (o == NULL)
		return NULL;
	rc = lr_json_set_int(o, "i", i);
	rc |= lr_json_set_bool(o, "chosen", chosen);
	rc |= lr_json_set_bool(o, "has_code", c->it.has_code);
	rc |= lr_json_set_bool(o, "passed", c->it.passed);
	rc |= lr_json_set_num(o, "score", c->it.score);
	rc |= lr_json_set_int(o, "tests_passed", c->it.tests_passed);
	rc |= lr_json_set_int(o, "tests_total", c->it.tests_total);
	rc |= lr_json_set_str(o, "summary", c->summary);
	rc |= lr_json_set_int(o, "tokens", c->a.tokens_prompt + c->a.tokens_completion);
	if (gen != NULL) {
		rc |= lr_json_set_int(o, "generated_tests_passed", __builtin_popcountll(*gen));
		rc |= lr_json_set_int(o, "agreement", c->it.agreement);
	}
	rc |= lr_json_set_strn(o, "code", c->a.code,
	                       len > LOOP_CANDIDATE_CODE_MAX ? LOOP_CANDIDATE_CODE_MAX : len);
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* The sampling round's prompt: the task, the entry point, the tests when
 * shown, and the session's cells when the job names one. */
static int sample_prompt(loop_run *L, prompt *p, lr_err *err)
{
	const lr_job_spec *s = L->spec;
	prompt_input in;

	memset(&in, 0, sizeof(in));
	in.task = s->prompt;
	in.entry_point = L->entry_point;
	in.tests = s->show_tests ? (s->io ? L->io_examples : s->tests) : NULL;
	in.program = s->io != NULL;
	in.session = su_current_prompt(L->ctx);
	return prompt_generate(p, &in, err);
}

/* Asks the model once for tests to rank candidates by; their tokens count as
 * the round's. */
static int sample_ask_tests(loop_run *L, step_info *si, lr_err *err)
{
	long tokens = 0;
	int rc;

	progress(L, "iteration %zu: asking the model for tests to rank candidates by", L->n);
	rc = loop_gentests_ask(L, &tokens, &si->t_model_ms, err);
	si->tokens_prompt += tokens;
	return rc;
}

/* The round's candidates as the iteration's `candidates` array. */
static int candidates_add(json_object *arr, const cand *cs, long got, long best,
                          const uint64_t *masks, lr_err *err)
{
	for (long i = 0; i < got; i++) {
		json_object *o =
		    candidate_json(&cs[i], (int)i, i == best, masks ? &masks[i] : NULL);

		if (o == NULL || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		}
	}
	return 0;
}

static int step_sample(loop_run *L, const loop_next *nx, lr_err *err)
{
	const lr_job_spec *s = L->spec;
	double temp = s->has_temperature ? s->temperature : LOOP_SAMPLE_TEMPERATURE;
	int autos = L->budget.auto_strategy;
	long n = s->n > 0 ? s->n : 1;
	cand *cs = calloc((size_t)n, sizeof(*cs));
	loop_iter *its = calloc((size_t)n, sizeof(*its));
	uint64_t *masks = calloc((size_t)n, sizeof(*masks));
	int *has = calloc((size_t)n, sizeof(*has));
	long *agree = calloc((size_t)n, sizeof(*agree));
	int gen = loop_gentests_wanted(L);
	json_object *arr = json_object_new_array();
	prompt p;
	step_info si = {.t_start = lr_now_ms(), .phase = LOOP_PHASE_SAMPLE, .base = -1};
	long got = 0, best;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	if (cs == NULL || its == NULL || arr == NULL || masks == NULL || has == NULL ||
	    agree == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	rc = sample_prompt(L, &p, err);
	if (rc < 0)
		goto cleanup;
	if (gen && !L->gen_asked) {
		rc = sample_ask_tests(L, &si, err);
		if (rc < 0) {
			rc = model_stop(L, rc, err);
			goto cleanup;
		}
	}
	gen = gen && L->gen_tests != NULL;
	si.gen_tests = gen ? L->gen_tests : NULL;
	for (long i = 0; i < n; i++) {
		long tokens = L->tokens_total + si.tokens_prompt + si.tokens_completion;

		if (i > 0 && (tokens >= L->budget.tokens || loop_elapsed(L) >= L->budget.wall_s))
			break; /* the candidates so far are what the budget allows */
		rc = lr_jobctx_check(L->ctx, err);
		if (rc < 0)
			goto cleanup;
		if (autos)
			temp = loop_auto_temperature(nx->level, i, L->temperature);
		progress(L, "iteration %zu: sample: candidate %ld of %ld (temperature %.2g)", L->n,
		         i + 1, n, temp);
		/* A seed per candidate: different answers, the same ones when resumed. */
		rc = run_candidate(&cs[i], L, LOOP_PHASE_SAMPLE, &p, temp,
		                   (long)L->n * 1000 + i + 1, err);
		if (rc < 0) {
			if (got > 0 && (rc == LR_EINVAL || rc == LR_ETIMEOUT)) {
				log_warn("job %s: candidate %ld: %s; going on with %ld", L->id,
				         i + 1, err ? err->msg : "", got);
				rc = 0;
				break;
			}
			rc = model_stop(L, rc, err);
			goto cleanup;
		}
		got++;
		si.tokens_prompt += cs[i].a.tokens_prompt;
		si.tokens_completion += cs[i].a.tokens_completion;
		si.t_model_ms += cs[i].a.t_model_ms;
		si.t_eval_ms += cs[i].t_eval_ms;
		if (gen && cs[i].a.code != NULL) {
			has[i] = 1;
			rc = loop_gentests_run(L, cs[i].a.code, &masks[i], &si.t_eval_ms, err);
			if (rc < 0)
				goto cleanup;
		}
		if (cs[i].it.passed && !gen)
			break; /* nothing ranks above a pass */
	}
	if (gen)
		loop_agreement(agree, masks, has, (size_t)got);
	for (long i = 0; i < got; i++) {
		cs[i].it.agreement = agree[i];
		its[i] = cs[i].it;
	}
	best = loop_best(its, (size_t)got);
	rc = candidates_add(arr, cs, got, best, gen ? masks : NULL, err);
	if (rc < 0)
		goto cleanup;
	si.candidates = arr;
	rc = record(L, &cs[best], &si, err);
cleanup:
	for (long i = 0; cs != NULL && i < n; i++)
		cand_free(&cs[i]);
	free(cs);
	free(its);
	free(masks);
	free(has);
	free(agree);
	json_object_put(arr);
	prompt_free(&p);
	return rc;
}

int loop_step(loop_run *L, const loop_next *nx, lr_err *err)
{
	if (nx->action == LOOP_ACT_SAMPLE)
		return step_sample(L, nx, err);
	return step_single(L, nx, err);
}
