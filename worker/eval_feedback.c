/* eval_feedback.c - what the model reads to repair the code, and the one-line
 * summary and error. The most important problem comes first: the run itself,
 * then the code not loading, then failing tests with their input, expected
 * and actual values and the code's own line, then the criteria the static
 * tools decide. Every value is clipped; the whole text is bounded. */
#include "eval_io.h"
#include "eval_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VALUE_MAX 200 /* bytes of one value (input, expected, actual) */
#define LINE_MAX_ 240 /* bytes of one line of code or message */

static int puts_(lr_buf *b, const char *s)
{
	int rc = lr_buf_puts(b, s);

	return rc == LR_ETOOBIG ? 0 : rc;
}

static int printf_(lr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int printf_(lr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = lr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc == LR_ETOOBIG ? 0 : rc;
}

static int clip(lr_buf *b, const char *s, size_t max)
{
	int rc = lr_buf_clip(b, s, max, 1);

	return rc == LR_ETOOBIG ? 0 : rc;
}

static int status_is(const char *st, const char *s)
{
	return st != NULL && strcmp(st, s) == 0;
}

/* The last frame of the traceback in the code itself: its line and text. */
static void code_location(json_object *err, long *line, const char **code)
{
	json_object *tb = lr_json_arr(err, "traceback");
	size_t n = tb ? json_object_array_length(tb) : 0;

	*line = lr_json_int(err, "solution_line", 0);
	*code = NULL;
	for (size_t i = n; i > 0; i--) {
		json_object *fr = json_object_array_get_idx(tb, i - 1);
		const char *file = lr_json_str(fr, "file");

		if (file && strcmp(file, "solution") == 0) {
			*line = lr_json_int(fr, "line", *line);
			*code = lr_json_str(fr, "code");
			return;
		}
	}
	if (*line <= 0 && status_is(lr_json_str(err, "file"), "solution")) {
		*line = lr_json_int(err, "line", 0);
		*code = lr_json_str(err, "code");
	}
}

/* " at line 7 of the code: `return xs[i]`" when the code's own line is known. */
static int put_where(lr_buf *b, json_object *err)
{
	long line;
	const char *code;
	int rc;

	code_location(err, &line, &code);
	if (line <= 0)
		return 0;
	rc = printf_(b, " at line %ld of the code", line);
	if (rc == 0 && code && *code) {
		rc = puts_(b, ": ");
		if (rc == 0)
			rc = clip(b, code, LINE_MAX_);
	}
	return rc;
}

/* "TypeError: message" */
static int put_exception(lr_buf *b, json_object *err)
{
	const char *type = lr_json_str(err, "type");
	const char *msg = lr_json_str(err, "message");
	int rc = clip(b, type ? type : "an error", 80);

	if (rc == 0 && msg && *msg) {
		rc = puts_(b, ": ");
		if (rc == 0)
			rc = clip(b, msg, LINE_MAX_);
	}
	return rc;
}

/* The harness's own failure (the code did not load or run). */
static int put_failure(lr_buf *b, const char *status, json_object *err, const eval_judge_ctx *ctx)
{
	const char *msg = lr_json_str(err, "message");
	const char *code = lr_json_str(err, "code");
	long line = lr_json_int(err, "line", 0), col = lr_json_int(err, "col", 0);
	int rc = 0;

	if (status_is(status, "syntax_error")) {
		rc = puts_(b, "The code does not parse: ");
		if (rc == 0)
			rc = clip(
			    b, lr_json_str(err, "type") ? lr_json_str(err, "type") : "SyntaxError",
			    60);
		if (rc == 0 && line > 0)
			rc = printf_(b, " at line %ld", line);
		if (rc == 0 && col > 0)
			rc = printf_(b, ", column %ld", col);
		if (rc == 0 && msg) {
			rc = puts_(b, ": ");
			if (rc == 0)
				rc = clip(b, msg, LINE_MAX_);
		}
		if (rc == 0 && code && *code) {
			rc = puts_(b, "\n    ");
			if (rc == 0)
				rc = clip(b, code, LINE_MAX_);
		}
		return rc == 0 ? puts_(b, "\n") : rc;
	}
	if (status_is(status, "load_error")) {
		rc = puts_(b, "Running the code raised ");
		if (rc == 0)
			rc = put_exception(b, err);
		if (rc == 0)
			rc = put_where(b, err);
		if (rc == 0 && status_is(lr_json_str(err, "type"), "MemoryError"))
			rc = printf_(b, " (out of memory: the limit is %ld MB)", ctx->memory_mb);
		return rc == 0 ? puts_(b, "\n") : rc;
	}
	if (status_is(status, "load_timeout")) {
		rc = printf_(b, "Running the code did not finish within %.3g s", ctx->timeout_s);
		if (rc == 0)
			rc = put_where(b, err);
		return rc == 0 ? puts_(b, " (an endless loop at module level?)\n") : rc;
	}
	if (status_is(status, "empty"))
		rc = puts_(b, "The code is empty: ");
	else if (status_is(status, "too_big"))
		rc = puts_(b, "The code is too big: ");
	else if (status_is(status, "bad_tests"))
		rc = puts_(b, "The tests cannot be used (this is not the code's fault): ");
	else if (status_is(status, "memory"))
		rc = printf_(
		    b, "Running the code went over the memory limit (%ld MB): ", ctx->memory_mb);
	else
		rc = puts_(b, "Running the code failed: ");
	if (rc == 0)
		rc = clip(b, msg ? msg : "no details", LINE_MAX_);
	if (rc == 0 && status_is(status, "bad_tests") && line > 0)
		rc = printf_(b, " (tests line %ld)", line);
	return rc == 0 ? puts_(b, "\n") : rc;
}

/* An io case: what went wrong, and for the first one its input and output. */
static int put_io_case(lr_buf *b, json_object *t)
{
	json_object *io = lr_json_obj(t, "io"), *e = lr_json_obj(t, "error"), *d;
	eval_io_view v = {
	    .status = lr_json_str(t, "status"),
	    .error_type = lr_json_str(e, "type"),
	    .message = lr_json_str(e, "message"),
	    .line = lr_json_int(e, "line", 0),
	    .detail = json_object_object_get_ex(io, "detail", &d) && json_object_get_boolean(d),
	    .in = lr_json_str(io, "stdin"),
	    .expected = lr_json_str(io, "expected"),
	    .actual = lr_json_str(io, "actual"),
	    .err = lr_json_str(io, "stderr"),
	    .in_bytes = lr_json_int(io, "stdin_bytes", -1),
	    .expected_bytes = lr_json_int(io, "expected_bytes", -1),
	    .actual_bytes = lr_json_int(io, "actual_bytes", -1),
	};

	return eval_io_case_text(b, &v) == LR_ENOMEM ? LR_ENOMEM : 0;
}

/* A failed assertion: the call and what it returned against what was
 * expected, or the comparison that was false. */
static int put_failed_assertion(lr_buf *b, json_object *a, json_object *err)
{
	const char *call = lr_json_str(a, "call"), *actual = lr_json_str(a, "actual");
	const char *expected = lr_json_str(a, "expected");
	int rc;

	if (call && actual) {
		rc = clip(b, call, VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, " returned ");
		if (rc == 0)
			rc = clip(b, actual, VALUE_MAX);
		if (rc == 0 && expected) {
			rc = puts_(b, ", expected ");
			if (rc == 0)
				rc = clip(b, expected, VALUE_MAX);
		} else if (rc == 0 && lr_json_str(a, "expr")) {
			rc = puts_(b, "; the check `");
			if (rc == 0)
				rc = clip(b, lr_json_str(a, "expr"), LINE_MAX_);
			if (rc == 0)
				rc = puts_(b, "` is false");
		}
	} else if (expected && actual) {
		rc = puts_(b, "expected ");
		if (rc == 0)
			rc = clip(b, expected, VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, ", got ");
		if (rc == 0)
			rc = clip(b, actual, VALUE_MAX);
	} else if (lr_json_str(a, "left") && lr_json_str(a, "right")) {
		rc = puts_(b, "`");
		if (rc == 0)
			rc = clip(b, lr_json_str(a, "left"), VALUE_MAX);
		if (rc == 0)
			rc = printf_(b, " %s ", lr_json_str(a, "op") ? lr_json_str(a, "op") : "?");
		if (rc == 0)
			rc = clip(b, lr_json_str(a, "right"), VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, "` is false");
	} else {
		rc = put_exception(b, err);
	}
	if (rc == 0 && lr_json_str(a, "message") && call) {
		rc = puts_(b, " (");
		if (rc == 0)
			rc = clip(b, lr_json_str(a, "message"), LINE_MAX_);
		if (rc == 0)
			rc = puts_(b, ")");
	}
	return rc;
}

/* A case that raised: the call, the exception and where. */
static int put_raised(lr_buf *b, const char *call, json_object *err, const eval_judge_ctx *ctx)
{
	int rc;

	if (call) {
		rc = clip(b, call, VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, " raised ");
	} else {
		rc = puts_(b, "raised ");
	}
	if (rc == 0)
		rc = put_exception(b, err);
	if (rc == 0)
		rc = put_where(b, err);
	if (rc == 0 && status_is(lr_json_str(err, "type"), "MemoryError"))
		rc = printf_(b, " (out of memory: the limit is %ld MB)", ctx->memory_mb);
	return rc;
}

/* A case that ran out of time: the call, the message and where. */
static int put_timed_out(lr_buf *b, const char *call, json_object *err)
{
	int rc = 0;

	if (call) {
		rc = clip(b, call, VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, ": ");
	}
	if (rc == 0)
		rc = clip(b,
		          lr_json_str(err, "message") ? lr_json_str(err, "message")
		                                      : "did not finish in time",
		          LINE_MAX_);
	if (rc == 0)
		rc = put_where(b, err);
	if (rc == 0)
		rc = puts_(b, " (an endless loop, or too slow?)");
	return rc;
}

/* What went wrong in one test case, on the lines after its name. */
static int put_case_detail(lr_buf *b, json_object *t, const eval_judge_ctx *ctx)
{
	const char *st = lr_json_str(t, "status");
	json_object *err = lr_json_obj(t, "error");
	json_object *a = lr_json_obj(t, "assertion");
	const char *call = lr_json_str(a, "call"), *out = lr_json_str(t, "stdout");
	int rc;

	if (lr_json_obj(t, "io") != NULL) /* an io case: input and output, not calls */
		return put_io_case(b, t);
	rc = puts_(b, "   ");
	if (rc < 0)
		return rc;
	if (status_is(st, "failed") && a != NULL) {
		rc = put_failed_assertion(b, a, err);
	} else if (status_is(st, "failed")) {
		rc = put_exception(b, err);
		if (rc == 0)
			rc = put_where(b, err);
	} else if (status_is(st, "error")) {
		rc = put_raised(b, call, err, ctx);
	} else if (status_is(st, "timeout")) {
		rc = put_timed_out(b, call, err);
	} else {
		rc = clip(b, lr_json_str(err, "message") ? lr_json_str(err, "message") : st,
		          LINE_MAX_);
	}
	if (rc == 0)
		rc = puts_(b, "\n");
	if (rc == 0 && out && *out) {
		rc = puts_(b, "   it printed: ");
		if (rc == 0)
			rc = clip(b, out, VALUE_MAX);
		if (rc == 0)
			rc = puts_(b, "\n");
	}
	return rc;
}

static int is_failing(json_object *t)
{
	const char *st = lr_json_str(t, "status");
	json_object *p;

	if (st == NULL || !strcmp(st, "passed") || !strcmp(st, "skipped"))
		return 0;
	return !(json_object_object_get_ex(t, "passed", &p) && json_object_get_boolean(p));
}

static int put_case_head(lr_buf *b, json_object *t)
{
	const char *file = lr_json_str(t, "file");
	int rc;

	if (lr_json_obj(t, "io") != NULL || status_is(lr_json_str(t, "form"), "io"))
		return clip(b, lr_json_str(t, "name") ? lr_json_str(t, "name") : "a case", 40);
	rc = clip(b, lr_json_str(t, "name") ? lr_json_str(t, "name") : "a test", LINE_MAX_);

	if (rc == 0)
		rc = printf_(b, " (%s line %ld)", status_is(file, "solution") ? "code" : "tests",
		             lr_json_int(t, "line", 0));
	return rc;
}

/* Which failing tests to show first: a missing entry point explains all the
 * others; tests that never ran say least. */
static int failure_rank(json_object *t)
{
	if (status_is(lr_json_str(lr_json_obj(t, "error"), "type"), "EntryPointError"))
		return 0;
	return status_is(lr_json_str(t, "status"), "not_run") ? 2 : 1;
}

/* The i-th failing test in display order (rank, then position), or NULL. */
static json_object *nth_failure(const eval_facts *f, int nth, int max_rank)
{
	json_object *tests = lr_json_arr(f->ans, "tests");
	size_t n = tests ? json_object_array_length(tests) : 0;

	for (int rank = 0; rank <= max_rank; rank++) {
		for (size_t i = 0; i < n; i++) {
			json_object *t = json_object_array_get_idx(tests, i);

			if (is_failing(t) && failure_rank(t) == rank && nth-- == 0)
				return t;
		}
	}
	return NULL;
}

static int put_failing_tests(lr_buf *b, const eval_facts *f, const eval_judge_ctx *ctx)
{
	json_object *tests = lr_json_arr(f->ans, "tests");
	size_t n = tests ? json_object_array_length(tests) : 0;
	json_object *t, *first_not_run = NULL;
	int shown = 0, more = 0, not_run = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		t = json_object_array_get_idx(tests, i);
		if (is_failing(t) && failure_rank(t) == 2 && not_run++ == 0)
			first_not_run = t;
	}
	while (rc == 0 && (t = nth_failure(f, shown + more, 1)) != NULL) {
		if (shown >= EVAL_FAILURES_SHOWN) {
			more++;
			continue;
		}
		shown++;
		rc = printf_(b, "%d. ", shown);
		if (rc == 0)
			rc = put_case_head(b, t);
		if (rc == 0)
			rc = puts_(b, "\n");
		if (rc == 0)
			rc = put_case_detail(b, t, ctx);
	}
	if (rc == 0 && more)
		rc = printf_(b, "... and %d more failing test%s.\n", more, more == 1 ? "" : "s");
	if (rc == 0 && not_run) {
		const char *why = lr_json_str(lr_json_obj(first_not_run, "error"), "message");

		if (why && strncmp(why, "not run: ", 9) == 0)
			why += 9;
		rc = printf_(b, "%d test%s did not run", not_run, not_run == 1 ? "" : "s");
		if (rc == 0 && why) {
			rc = puts_(b, ": ");
			if (rc == 0)
				rc = clip(b, why, LINE_MAX_);
		}
		if (rc == 0)
			rc = puts_(b, ".\n");
	}
	return rc;
}

/* Findings of one static tool as "- line N: message (tool)" lines. */
static int put_findings(lr_buf *b, const eval_facts *f, const char *tool, const char *kind,
                        lr_severity above, int max)
{
	json_object *st = lr_json_obj(lr_json_obj(f->ans, "static"), tool);
	json_object *list = lr_json_arr(st, "findings");
	size_t n = list ? json_object_array_length(list) : 0;
	int shown = 0, rc = 0;

	for (size_t i = 0; i < n && shown < max && rc == 0; i++) {
		json_object *x = json_object_array_get_idx(list, i);
		lr_severity sev = LR_SEV_NONE;

		if (kind && !status_is(lr_json_str(x, "kind"), kind))
			continue;
		if (!kind &&
		    (lr_severity_parse(lr_json_str(x, "severity"), &sev) < 0 || sev <= above))
			continue;
		shown++;
		rc = printf_(b, "- line %ld: ", lr_json_int(x, "line", 0));
		if (rc == 0)
			rc = clip(b, lr_json_str(x, "message"), LINE_MAX_);
		if (rc == 0 && kind)
			rc = printf_(b, " (pyflakes)\n");
		else if (rc == 0)
			rc = printf_(b, " (bandit %s, %s severity)\n",
			             lr_json_str(x, "test_id") ? lr_json_str(x, "test_id") : "?",
			             lr_severity_name(sev));
	}
	return rc;
}

static int violated(json_object *viol, const char *criterion)
{
	size_t n = json_object_array_length(viol);

	for (size_t i = 0; i < n; i++)
		if (status_is(lr_json_str(json_object_array_get_idx(viol, i), "criterion"),
		              criterion))
			return 1;
	return 0;
}

/* Criteria the static tools and figures decide, with their findings. */
static int put_other_violations(lr_buf *b, const eval_facts *f, json_object *viol,
                                const lr_criteria *crit)
{
	size_t n = json_object_array_length(viol);
	int rc = 0, head = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *v = json_object_array_get_idx(viol, i);
		const char *c = lr_json_str(v, "criterion");

		if (!c || !strcmp(c, "run") || !strcmp(c, "min_pass_rate") ||
		    !strcmp(c, "max_errors"))
			continue;
		if (!head++)
			rc = puts_(b, "Criteria not met:\n");
		if (rc == 0)
			rc = puts_(b, "* ");
		if (rc == 0)
			rc = clip(b, lr_json_str(v, "message"), LINE_MAX_);
		if (rc == 0)
			rc = puts_(b, "\n");
		if (rc == 0 && !strcmp(c, "max_static_errors"))
			rc = put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 5);
		else if (rc == 0 && !strcmp(c, "max_lint"))
			rc = put_findings(b, f, "pyflakes", "warning", LR_SEV_NONE, 5);
		else if (rc == 0 && !strcmp(c, "max_security"))
			rc = put_findings(b, f, "bandit", NULL, crit->max_security, 5);
	}
	return rc;
}

int eval_feedback_text(lr_buf *b, const eval_facts *f, json_object *viol, const lr_criteria *crit,
                       const sbx_result *run, const eval_judge_ctx *ctx, int passed)
{
	size_t nviol = json_object_array_length(viol);
	int rc = 0;

	if (passed) {
		if (f->tests_total)
			rc = printf_(b, "All %d tests pass.\n", f->tests_total);
		else
			rc = puts_(b, "The code ran to the end without errors.\n");
		if (rc == 0 && f->pyflakes_ran && (f->lint_warnings || f->static_errors)) {
			rc = puts_(b, "Worth tidying:\n");
			if (rc == 0)
				rc = put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 3);
			if (rc == 0)
				rc = put_findings(b, f, "pyflakes", "warning", LR_SEV_NONE, 3);
		}
		if (rc == 0 && f->bandit_ran && f->worst_severity >= LR_SEV_MEDIUM)
			rc = put_findings(b, f, "bandit", NULL, LR_SEV_LOW, 3);
		if (rc == 0 && f->radon_ran && f->max_complexity > 10)
			rc = printf_(b,
			             "- %s (line %ld) has cyclomatic complexity %ld; consider "
			             "splitting it\n",
			             f->max_complexity_fn ? f->max_complexity_fn : "a function",
			             f->max_complexity_line, f->max_complexity);
		return rc;
	}
	/* 1. The run itself. */
	if (run->end != SBX_END_EXITED || f->ans == NULL) {
		json_object *v = json_object_array_get_idx(viol, 0);

		rc = puts_(b, "The evaluation failed: ");
		if (rc == 0)
			rc = clip(b, lr_json_str(v, "message"), LINE_MAX_);
		if (rc == 0 && run->end == SBX_END_TIMEOUT)
			rc = puts_(b, " (an endless loop, or far too slow?)");
		if (rc == 0 && run->end == SBX_END_MEMORY)
			rc = puts_(b, " (allocate less: large lists, deep recursion, caches)");
		if (rc == 0)
			rc = puts_(b, ".\n");
		if (rc == 0 && run->err_len) {
			rc = puts_(b, "Its error output ends with: ");
			if (rc == 0)
				rc = clip(b,
				          run->err_len > 300 ? run->err + run->err_len - 300
				                             : run->err,
				          300);
			if (rc == 0)
				rc = puts_(b, "\n");
		}
		return rc;
	}
	/* 2. The code did not load or could not be tested. */
	if (!f->ran && f->failure != NULL)
		rc = put_failure(b, f->status, f->failure, ctx);
	else if (!f->ran)
		rc = printf_(b, "The code did not run (%s).\n", f->status ? f->status : "unknown");
	/* 3. Failing tests. */
	if (rc == 0 && f->tests_total > f->tests_passed) {
		if (f->ran || f->tests_passed == 0)
			rc = printf_(b, "%d of %d test%s fail%s:\n",
			             f->tests_total - f->tests_passed, f->tests_total,
			             f->tests_total == 1 ? "" : "s",
			             f->tests_total - f->tests_passed == 1 ? "s" : "");
		if (rc == 0)
			rc = put_failing_tests(b, f, ctx);
	} else if (rc == 0 && f->ran && violated(viol, "max_errors")) {
		rc = puts_(b, "The tests pass, but there were runtime errors.\n");
	}
	/* 4. What the static tools decide. */
	if (rc == 0)
		rc = put_other_violations(b, f, viol, crit);
	/* Undefined names are likely the bug even when not a criterion. */
	if (rc == 0 && f->static_errors > 0 && !violated(viol, "max_static_errors") && nviol > 0) {
		rc = puts_(b, "pyflakes also reports:\n");
		if (rc == 0)
			rc = put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 3);
	}
	return rc;
}

/* The first failing test in a few words: "name (tests line N): got X, expected Y". */
static int put_first_failure(lr_buf *b, const eval_facts *f)
{
	json_object *t = nth_failure(f, 0, 2);
	json_object *a = lr_json_obj(t, "assertion"), *err = lr_json_obj(t, "error");
	int rc;

	if (t == NULL)
		return 0;
	rc = put_case_head(b, t);
	if (rc == 0 && lr_json_str(a, "actual") && lr_json_str(a, "expected")) {
		rc = puts_(b, ": got ");
		if (rc == 0)
			rc = clip(b, lr_json_str(a, "actual"), 60);
		if (rc == 0)
			rc = puts_(b, ", expected ");
		if (rc == 0)
			rc = clip(b, lr_json_str(a, "expected"), 60);
	} else if (rc == 0 && err) {
		rc = puts_(b, ": ");
		if (rc == 0)
			rc = put_exception(b, err);
	}
	return rc;
}

int eval_error_text(lr_buf *b, const eval_facts *f, json_object *viol, const sbx_result *run,
                    const eval_judge_ctx *ctx)
{
	json_object *v = json_object_array_get_idx(viol, 0);
	const char *c = lr_json_str(v, "criterion");
	int rc;

	(void)ctx;
	if (v == NULL)
		return 0;
	if (run->end == SBX_END_EXITED && f->ans && !f->ran && f->failure) {
		const char *type = lr_json_str(f->failure, "type");
		long line;
		const char *code;

		rc = clip(b, type ? type : "error", 60);
		code_location(f->failure, &line, &code);
		if (line <= 0 && status_is(f->status, "syntax_error"))
			line = lr_json_int(f->failure, "line", 0);
		if (rc == 0 && line > 0)
			rc = printf_(b, " at line %ld", line);
		if (rc == 0 && lr_json_str(f->failure, "message") &&
		    *lr_json_str(f->failure, "message")) {
			rc = puts_(b, ": ");
			if (rc == 0)
				rc = clip(b, lr_json_str(f->failure, "message"), 200);
		}
		return rc;
	}
	if (c && (!strcmp(c, "min_pass_rate") || !strcmp(c, "max_errors")) &&
	    f->tests_total > f->tests_passed) {
		rc = printf_(b, "%d of %d tests fail; first: ", f->tests_total - f->tests_passed,
		             f->tests_total);
		return rc == 0 ? put_first_failure(b, f) : rc;
	}
	return clip(b, lr_json_str(v, "message"), 300);
}

int eval_summary_text(lr_buf *b, const eval_facts *f, json_object *viol, const sbx_result *run,
                      const eval_judge_ctx *ctx, int passed, double score)
{
	int rc;

	if (passed) {
		if (f->tests_total)
			return printf_(b, "passed: %d/%d tests, score %.2f", f->tests_passed,
			               f->tests_total, score);
		return printf_(b, "passed: ran without errors, score %.2f", score);
	}
	rc = puts_(b, "failed: ");
	if (rc == 0 && f->ran && f->tests_total > f->tests_passed) {
		rc = printf_(b, "%d/%d tests pass; first failure: ", f->tests_passed,
		             f->tests_total);
		if (rc == 0)
			rc = put_first_failure(b, f);
	} else if (rc == 0) {
		lr_buf e;

		lr_buf_init(&e, 200);
		rc = eval_error_text(&e, f, viol, run, ctx);
		if (rc == LR_ETOOBIG)
			rc = 0;
		if (rc == 0)
			rc = clip(b, e.data ? e.data : "", 200);
		lr_buf_free(&e);
	}
	return rc;
}
