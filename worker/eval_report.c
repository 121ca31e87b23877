/* eval_report.c - facts, criteria, score and the report JSON of one evaluation. */
#include "eval_report.h"

#include "eval_check.h"
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- facts ----------------------------------------------------------------- */

static int status_is(const eval_facts *f, const char *s)
{
	return f->status != NULL && strcmp(f->status, s) == 0;
}

static void read_tests(eval_facts *f)
{
	json_object *tests = lr_json_arr(f->ans, "tests");
	size_t n = tests ? json_object_array_length(tests) : 0;

	f->tests_total = (int)lr_json_int(f->ans, "tests_total", 0);
	f->tests_passed = (int)lr_json_int(f->ans, "tests_passed", 0);
	if (f->tests_total < 0)
		f->tests_total = 0;
	if (f->tests_passed < 0)
		f->tests_passed = 0;
	if (f->tests_passed > f->tests_total)
		f->tests_passed = f->tests_total;
	for (size_t i = 0; i < n; i++) {
		const char *st = lr_json_str(json_object_array_get_idx(tests, i), "status");

		if (st == NULL)
			continue;
		if (!strcmp(st, "error") || !strcmp(st, "crashed") || !strcmp(st, "memory"))
			f->runtime_errors++;
		else if (!strcmp(st, "timeout"))
			f->timeouts++;
	}
}

static void read_static(eval_facts *f)
{
	json_object *st = lr_json_obj(f->ans, "static");
	json_object *pf = lr_json_obj(st, "pyflakes");
	json_object *bd = lr_json_obj(st, "bandit");
	json_object *rd = lr_json_obj(st, "radon");
	json_object *v;

	if (pf && json_object_object_get_ex(pf, "ran", &v) && json_object_get_boolean(v)) {
		f->pyflakes_ran = 1;
		f->static_errors = lr_json_int(pf, "errors", 0);
		f->lint_warnings = lr_json_int(pf, "warnings", 0);
	}
	if (bd && json_object_object_get_ex(bd, "ran", &v) && json_object_get_boolean(v)) {
		lr_severity s = LR_SEV_NONE;

		f->bandit_ran = 1;
		if (lr_severity_parse(lr_json_str(bd, "max_severity"), &s) == 0)
			f->worst_severity = s;
	}
	if (rd && json_object_object_get_ex(rd, "ran", &v) && json_object_get_boolean(v)) {
		f->radon_ran = 1;
		f->max_complexity = lr_json_int(rd, "max_complexity", 0);
		f->max_complexity_fn = lr_json_str(rd, "max_complexity_function");
		f->max_complexity_line = lr_json_int(rd, "max_complexity_line", 0);
		f->mi = lr_json_num(rd, "mi", -1);
	}
}

/* pre: the answer already parsed (a borrowed reference), or NULL. */
static int facts_read(eval_facts *f, const sbx_result *run, int split, json_object *pre)
{
	json_object *m;
	lr_err perr;
	char why[160];
	int read = 0; /* an answer was read: pre, or the text parsed */

	memset(f, 0, sizeof(*f));
	f->mi = -1;
	f->sandbox_failed = run->end != SBX_END_EXITED;
	if (pre != NULL) {
		f->ans = json_object_get(pre);
		read = 1;
	} else if (run->answer == NULL) {
		snprintf(f->answer_problem, sizeof(f->answer_problem),
		         "the evaluation harness wrote no answer");
	} else if (lr_json_parse(&f->ans, run->answer, run->answer_len, EVAL_ANSWER_MAX,
	                         EVAL_ANSWER_DEPTH, &perr) < 0) {
		if (perr.code == LR_ENOMEM)
			return LR_ENOMEM;
		snprintf(f->answer_problem, sizeof(f->answer_problem),
		         "the evaluation harness's answer is unusable: %.150s", perr.msg);
	} else {
		read = 1;
	}
	if (!read) {
		/* answer_problem says why */
	} else if (!json_object_is_type(f->ans, json_type_object) ||
	           lr_json_int(f->ans, "harness", 0) < 1 || lr_json_str(f->ans, "status") == NULL) {
		json_object_put(f->ans);
		f->ans = NULL;
		snprintf(f->answer_problem, sizeof(f->answer_problem),
		         "the evaluation harness's answer is not a report");
	} else if (eval_report_check(f->ans, why, sizeof(why)) < 0) {
		json_object_put(f->ans);
		f->ans = NULL;
		f->invalid = 1;
		snprintf(f->answer_problem, sizeof(f->answer_problem),
		         "the evaluation harness's report is invalid: %s", why);
	}
	f->time_s = run->wall_s;
	f->peak_mb = (double)run->peak_kb / 1024.0;
	if (f->ans == NULL)
		return 0;
	/* Split only when both say so: the host ran a judge apart from the code,
	 * and the judge kept the tests out of the code's process. */
	f->split = split && lr_json_str(f->ans, "integrity") != NULL &&
	           strcmp(lr_json_str(f->ans, "integrity"), "split") == 0;
	/* Code in the judge's own process is in the judge's figures. */
	f->mem_unmeasured = f->split && !(run->isolation & SBX_ISO_CGROUP);
	/* The code's process ended under the judge (it says crashed) and the
	 * sandbox counted an OOM kill in the run: the memory limit ended it. */
	if (run->end == SBX_END_MEMORY && strcmp(lr_json_str(f->ans, "status"), "crashed") == 0 &&
	    lr_json_set_str(f->ans, "status", "memory") < 0)
		return -1;
	f->status = lr_json_str(f->ans, "status");
	f->failure = lr_json_obj(f->ans, "error");
	f->ran = !f->sandbox_failed && (status_is(f, "ok") || status_is(f, "tests_failed"));
	read_tests(f);
	if (status_is(f, "load_error") || status_is(f, "crashed") || status_is(f, "memory"))
		f->runtime_errors++;
	if (status_is(f, "load_timeout"))
		f->timeouts++;
	read_static(f);
	m = lr_json_obj(f->ans, "metrics");
	if (m != NULL) {
		double load = lr_json_num(m, "load_s", -1), tests = lr_json_num(m, "tests_s", -1);

		/* The report's figures can only add to the host's counters, never
		 * lower them: in process, the code could have written them. Time is
		 * the judge's own clock when split, else at least the run's CPU. */
		if (load >= 0 && tests >= 0)
			f->time_s = f->split ? load + tests : fmax(load + tests, run->cpu_s);
		if (lr_json_num(m, "peak_memory_kb", -1) >= 0)
			f->peak_mb = fmax(f->peak_mb, lr_json_num(m, "peak_memory_kb", 0) / 1024.0);
	}
	return 0;
}

int eval_facts_read(eval_facts *f, const sbx_result *run, int split)
{
	return facts_read(f, run, split, NULL);
}

void eval_facts_free(eval_facts *f)
{
	if (f == NULL)
		return;
	json_object_put(f->ans);
	f->ans = NULL;
}

/* ---- criteria --------------------------------------------------------------- */

static int violation(json_object *arr, const char *criterion, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int violation(json_object *arr, const char *criterion, const char *fmt, ...)
{
	char msg[400];
	json_object *o = json_object_new_object();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o == NULL || lr_json_set_str(o, "criterion", criterion) < 0 ||
	    lr_json_set_str(o, "message", msg) < 0 || json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return LR_ENOMEM;
	}
	return 0;
}

static const char *harness_status_text(const char *st)
{
	static const struct {
		const char *status, *text;
	} map[] = {
	    {"syntax_error", "the code does not parse"},
	    {"empty", "the code is empty"},
	    {"too_big", "the code is too big"},
	    {"bad_tests", "the tests cannot be used"},
	    {"bad_request", "the evaluation request was refused"},
	    {"load_error", "running the code raised an exception"},
	    {"load_timeout", "running the code did not finish in time"},
	    {"crashed", "the code crashed the interpreter"},
	    {"memory", "the code ran out of memory"},
	};

	for (size_t i = 0; st && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(st, map[i].status) == 0)
			return map[i].text;
	return "the code did not run";
}

/* The run itself, before any threshold: did the code get to run at all? */
static int run_violation(json_object *v, const eval_facts *f, const sbx_result *run,
                         const eval_judge_ctx *ctx)
{
	switch (run->end) {
	case SBX_END_TIMEOUT:
		return violation(v, "run", "the run did not finish within %.3g s", ctx->timeout_s);
	case SBX_END_MEMORY:
		return violation(v, "run", "the run went over the memory limit of %ld MB",
		                 ctx->memory_mb);
	case SBX_END_OUTPUT:
		return violation(v, "run", "the code wrote more output than the %zu bytes allowed",
		                 ctx->output_max);
	case SBX_END_SIGNALED:
		return violation(v, "run", "the run was killed by signal %d", run->signal);
	case SBX_END_ERROR:
		return violation(v, "run", "the sandbox could not run the code: %.200s",
		                 run->detail);
	case SBX_END_EXITED:
	default: break;
	}
	if (f->ans == NULL)
		return violation(v, "run", "%s (exit code %d)", f->answer_problem, run->exit_code);
	if (!f->ran) {
		const char *msg = lr_json_str(f->failure, "message");

		return violation(v, "run", "%s%s%.250s", harness_status_text(f->status),
		                 msg ? ": " : "", msg ? msg : "");
	}
	return 0;
}

int eval_violations(json_object *v, const eval_facts *f, const lr_criteria *c,
                    const sbx_result *run, const eval_judge_ctx *ctx)
{
	int rc;
	double rate;

	rc = run_violation(v, f, run, ctx);
	if (rc < 0)
		return rc;
	rate = f->tests_total ? (double)f->tests_passed / f->tests_total : (f->ran ? 1.0 : 0.0);
	if (f->ran && rate + 1e-9 < c->min_pass_rate)
		rc = violation(v, "min_pass_rate", "%d of %d tests pass (%.0f%%); %.0f%% required",
		               f->tests_passed, f->tests_total, rate * 100, c->min_pass_rate * 100);
	if (rc == 0 && f->ran && c->max_errors >= 0 && f->runtime_errors > c->max_errors)
		rc = violation(v, "max_errors", "%d runtime error%s; at most %ld allowed",
		               f->runtime_errors, f->runtime_errors == 1 ? "" : "s", c->max_errors);
	if (rc == 0 && c->max_static_errors >= 0) {
		if (!f->pyflakes_ran)
			rc = violation(v, "max_static_errors", "pyflakes did not run");
		else if (f->static_errors > c->max_static_errors)
			rc = violation(v, "max_static_errors",
			               "pyflakes reports %ld error%s; at most %ld allowed",
			               f->static_errors, f->static_errors == 1 ? "" : "s",
			               c->max_static_errors);
	}
	if (rc == 0 && c->max_security < LR_SEV_HIGH) {
		if (!f->bandit_ran)
			rc = violation(v, "max_security", "bandit did not run");
		else if (f->worst_severity > c->max_security)
			rc = violation(v, "max_security",
			               "bandit reports a %s-severity finding; at most %s allowed",
			               lr_severity_name(f->worst_severity),
			               lr_severity_name(c->max_security));
	}
	if (rc == 0 && c->max_lint >= 0) {
		if (!f->pyflakes_ran)
			rc = violation(v, "max_lint", "pyflakes did not run");
		else if (f->lint_warnings > c->max_lint)
			rc = violation(v, "max_lint", "%ld lint warning%s; at most %ld allowed",
			               f->lint_warnings, f->lint_warnings == 1 ? "" : "s",
			               c->max_lint);
	}
	if (rc == 0 && c->max_complexity >= 0) {
		if (!f->radon_ran)
			rc = violation(v, "max_complexity", "radon did not run");
		else if (f->max_complexity > c->max_complexity)
			rc =
			    violation(v, "max_complexity",
			              "%.80s (line %ld) has cyclomatic complexity %ld; at most %ld "
			              "allowed",
			              f->max_complexity_fn ? f->max_complexity_fn : "a function",
			              f->max_complexity_line, f->max_complexity, c->max_complexity);
	}
	if (rc == 0 && c->min_maintainability > 0) {
		if (!f->radon_ran || f->mi < 0)
			rc = violation(v, "min_maintainability", "radon did not run");
		else if (f->mi < c->min_maintainability)
			rc = violation(v, "min_maintainability",
			               "maintainability index %.1f; at least %.1f required", f->mi,
			               c->min_maintainability);
	}
	if (rc == 0 && c->require_split && !f->split)
		rc = violation(v, "integrity",
		               "the tests ran in the code's own process (integrity in_process); a "
		               "judge apart from the code is required");
	if (rc == 0 && c->max_time_s > 0 && f->ran && f->time_s > c->max_time_s)
		rc = violation(v, "max_time_s", "the code ran for %.3f s; at most %.3g s allowed",
		               f->time_s, c->max_time_s);
	/* Unmeasured is not within the limit: the code's own figures are not
	 * taken for it. */
	if (rc == 0 && c->max_memory_mb > 0 && f->ran && f->mem_unmeasured)
		rc = violation(v, "max_memory_mb",
		               "the code's memory was not measured: the run had no cgroup of its "
		               "own, and the code ran apart from the judge, whose memory alone "
		               "the host counted (see run.detail)");
	else if (rc == 0 && c->max_memory_mb > 0 && f->ran && f->peak_mb > c->max_memory_mb)
		rc = violation(v, "max_memory_mb",
		               "the code used %.1f MB at its peak; at most %.4g "
		               "MB allowed",
		               f->peak_mb, c->max_memory_mb);
	return rc;
}

/* ---- score ------------------------------------------------------------------- */

/* 0..1, for ranking candidates: the tests dominate (0.7), then running
 * cleanly (0.1), then what the static tools think (0.2 between undefined
 * names, security, lint and complexity). Code that did not run scores 0. */
double eval_score(const eval_facts *f)
{
	double rate, s;

	if (f->ans == NULL || f->sandbox_failed ||
	    !(f->ran || (f->status &&
	                 (!strcmp(f->status, "load_error") || !strcmp(f->status, "load_timeout") ||
	                  !strcmp(f->status, "crashed") || !strcmp(f->status, "memory")))))
		return 0.0;
	rate = f->tests_total ? (double)f->tests_passed / f->tests_total : (f->ran ? 1.0 : 0.0);
	s = 0.7 * rate;
	if (f->ran && f->runtime_errors == 0 && f->timeouts == 0)
		s += 0.1;
	s += 0.05 * (!f->pyflakes_ran || f->static_errors == 0 ? 1.0 : 0.0);
	s += 0.05 * (f->bandit_ran ? 1.0 - (double)f->worst_severity / 3.0 : 1.0);
	s += 0.05 * (f->pyflakes_ran ? 1.0 / (1.0 + (double)f->lint_warnings / 5.0) : 1.0);
	s += 0.05 *
	     (f->radon_ran && f->max_complexity > 10 ? 10.0 / (double)f->max_complexity : 1.0);
	if (!f->ran)
		s *= 0.5; /* it loaded partly: better than nothing, worse than anything that ran */
	return s < 0 ? 0 : (s > 1 ? 1 : s);
}

/* ---- the report ---------------------------------------------------------------- */

static const char *end_name(sbx_end e)
{
	static const char *const names[] = {"exited", "signaled", "timeout",
	                                    "memory", "output",   "error"};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown";
}

/* stdout or stderr of the report: what the harness captured from the code,
 * then anything written straight to the descriptor. */
static int put_stream(json_object *root, const char *key, const char *tkey, const char *raw,
                      size_t raw_len, int raw_trunc, size_t cap)
{
	lr_buf b;
	const char *captured = lr_json_str(root, key);
	json_object *t;
	int trunc = raw_trunc;
	int rc;

	lr_buf_init(&b, cap);
	if (captured && lr_buf_puts(&b, captured) == LR_ETOOBIG)
		trunc = 1;
	if (raw && raw_len && lr_buf_append(&b, raw, raw_len) == LR_ETOOBIG)
		trunc = 1;
	if (json_object_object_get_ex(root, tkey, &t) && json_object_get_boolean(t))
		trunc = 1;
	rc = lr_json_set_strn(root, key, b.data ? b.data : "", b.len);
	if (rc == 0)
		rc = lr_json_set_bool(root, tkey, trunc);
	lr_buf_free(&b);
	return rc;
}

/* How a grouped evaluation shared its run (eval_group.c). */
static json_object *group_json(const eval_judge_ctx *ctx)
{
	json_object *g = json_object_new_object();

	if (g == NULL || lr_json_set_int(g, "size", (long)ctx->group_size) < 0 ||
	    lr_json_set_int(g, "index", (long)ctx->group_index) < 0 ||
	    lr_json_set_str(g, "judge", ctx->group_judge > 0 ? "shared" : "own") < 0 ||
	    (ctx->group_judge > 0 &&
	     lr_json_set_int(g, "judge_item", (long)ctx->group_judge - 1) < 0) ||
	    lr_json_set_str(g, "peak_kb", "the group's run: an upper bound of this evaluation's") <
	        0) {
		json_object_put(g);
		return NULL;
	}
	return g;
}

static json_object *run_json(const sbx_result *run, const eval_judge_ctx *ctx)
{
	const char *retried = ctx->retried;

	json_object *o = json_object_new_object();
	int rc;

	if (o == NULL)
		return NULL;
	rc = lr_json_set_str(o, "end", end_name(run->end));
	rc |= lr_json_set_int(o, "exit_code", run->exit_code);
	rc |= lr_json_set_int(o, "signal", run->signal);
	rc |= lr_json_set_num(o, "wall_s", run->wall_s);
	rc |= lr_json_set_num(o, "cpu_s", run->cpu_s);
	rc |= lr_json_set_int(o, "peak_kb", run->peak_kb);
	rc |= lr_json_set_int(o, "isolation", (long)run->isolation);
	rc |= lr_json_set_str(o, "detail", run->detail);
	rc |= lr_json_set_str(o, "retried_isolated", retried);
	if (ctx->group_size > 0)
		rc |= lr_json_set_obj(o, "group", group_json(ctx));
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/* A buffer cut at its cap may end inside a UTF-8 sequence: drop the part. */
static void utf8_trim(lr_buf *b)
{
	size_t i = b->len, lead;
	size_t need;

	if (!b->truncated || i == 0)
		return;
	lead = i;
	while (lead > 0 && i - lead < 4 && ((unsigned char)b->data[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead == 0)
		return;
	{
		unsigned char c = (unsigned char)b->data[lead - 1];

		need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	}
	if (i - (lead - 1) < need) {
		b->len = lead - 1;
		b->data[b->len] = '\0';
	}
}

void eval_outcome_free(eval_outcome *o)
{
	if (o == NULL)
		return;
	free(o->result_json);
	free(o->error);
	free(o->feedback);
	free(o->summary);
	o->result_json = o->error = o->feedback = o->summary = NULL;
}

/* The report: the harness's answer, completed with the run, the criteria,
 * the verdict and the texts. A new reference, or NULL when out of memory. */
static json_object *report_json(const eval_facts *f, const sbx_result *run, json_object *viol,
                                const lr_criteria *crit, const eval_judge_ctx *ctx,
                                const eval_outcome *out, const lr_buf *fb, const lr_buf *sm,
                                const lr_buf *er)
{
	size_t cap = ctx->output_max ? ctx->output_max : 65536;
	json_object *root;

	if (f->ans != NULL) {
		root = json_object_get(f->ans);
	} else {
		root = json_object_new_object();
		if (root == NULL || lr_json_set_int(root, "harness", 0) < 0 ||
		    lr_json_set_str(root, "status",
		                    run->end == SBX_END_EXITED ? "no_answer" : end_name(run->end)) <
		        0 ||
		    lr_json_set_int(root, "tests_total", 0) < 0 ||
		    lr_json_set_int(root, "tests_passed", 0) < 0 ||
		    lr_json_set_obj(root, "tests", json_object_new_array()) < 0)
			goto oom;
	}
	if (lr_json_set_obj(root, "failure", f->failure ? json_object_get(f->failure) : NULL) < 0 ||
	    lr_json_set_str(root, "error", er->len ? er->data : NULL) < 0 ||
	    put_stream(root, "stdout", "stdout_truncated", run->out, run->out_len,
	               run->out_truncated, cap) < 0 ||
	    put_stream(root, "stderr", "stderr_truncated", run->err, run->err_len,
	               run->err_truncated, cap) < 0 ||
	    lr_json_set_obj(root, "run", run_json(run, ctx)) < 0 ||
	    lr_json_set_str(root, "integrity", f->split ? "split" : "in_process") < 0 ||
	    lr_json_set_obj(root, "criteria", lr_criteria_to_json(crit)) < 0 ||
	    lr_json_set_obj(root, "violations", json_object_get(viol)) < 0 ||
	    lr_json_set_str(root, "verdict", out->passed ? "passed" : "failed") < 0 ||
	    lr_json_set_bool(root, "passed", out->passed) < 0 ||
	    lr_json_set_num(root, "score", round(out->score * 10000) / 10000) < 0 ||
	    lr_json_set_str(root, "feedback", fb->data ? fb->data : "") < 0 ||
	    lr_json_set_str(root, "summary", sm->data ? sm->data : "") < 0)
		goto oom;
	return root;
oom:
	json_object_put(root);
	return NULL;
}

int eval_judge(eval_outcome *out, const sbx_result *run, const lr_criteria *crit,
               const eval_judge_ctx *ctx, lr_err *err)
{
	eval_facts f;
	lr_criteria defaults;
	json_object *root = NULL, *viol = NULL;
	lr_buf fb, sm, er;
	int rc;

	memset(out, 0, sizeof(*out));
	lr_buf_init(&fb, EVAL_FEEDBACK_MAX);
	lr_buf_init(&sm, 400);
	lr_buf_init(&er, 600);
	if (crit == NULL) {
		lr_criteria_default(&defaults);
		crit = &defaults;
	}
	rc = facts_read(&f, run, ctx->split, ctx->answer);
	if (rc < 0)
		goto oom;
	if (f.invalid && ctx->split) {
		/* The code could not have written it: the harness is broken. */
		rc = lr_err_set(err, LR_EPROTO, "%s", f.answer_problem);
		eval_facts_free(&f);
		lr_buf_free(&fb);
		lr_buf_free(&sm);
		lr_buf_free(&er);
		json_object_put(viol);
		return rc;
	}
	viol = json_object_new_array();
	if (viol == NULL || eval_violations(viol, &f, crit, run, ctx) < 0)
		goto oom;
	out->passed = json_object_array_length(viol) == 0;
	out->score = eval_score(&f);
	out->tests_total = f.tests_total;
	out->tests_passed = f.tests_passed;
	if (eval_feedback_text(&fb, &f, viol, crit, run, ctx, out->passed) == LR_ENOMEM ||
	    eval_summary_text(&sm, &f, viol, run, ctx, out->passed, out->score) == LR_ENOMEM ||
	    eval_error_text(&er, &f, viol, run, ctx) == LR_ENOMEM)
		goto oom;
	utf8_trim(&fb);
	utf8_trim(&sm);
	utf8_trim(&er);

	root = report_json(&f, run, viol, crit, ctx, out, &fb, &sm, &er);
	if (root == NULL)
		goto oom;
	out->result_json = lr_json_dump(root);
	if (out->result_json == NULL)
		goto oom;
	out->feedback = lr_buf_steal(&fb);
	out->summary = lr_buf_steal(&sm);
	if (!out->passed)
		out->error = lr_buf_steal(&er);
	if (!out->feedback || !out->summary || (!out->passed && !out->error))
		goto oom;
	rc = 0;
	goto cleanup;
oom:
	eval_outcome_free(out);
	memset(out, 0, sizeof(*out));
	rc = lr_err_set(err, LR_ENOMEM, "out of memory while judging the evaluation");
cleanup:
	json_object_put(root);
	json_object_put(viol);
	eval_facts_free(&f);
	lr_buf_free(&fb);
	lr_buf_free(&sm);
	lr_buf_free(&er);
	return rc;
}
