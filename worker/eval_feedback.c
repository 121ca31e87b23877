/* eval_feedback.c - what the model reads to repair the code, and the one-line
 * summary and error. The most important problem comes first: the run itself,
 * then the code not loading, then failing tests with their input, expected
 * and actual values and the code's own line, then the criteria the static
 * tools decide. Every value is clipped; the whole text is bounded. */
#include "eval_io.h"
#include "eval_report.h"

#include <string.h>

#define VALUE_CLIP 200 /* bytes of one value (input, expected, actual) */
#define LINE_CLIP  240 /* bytes of one line of code or message */

/* Every writer here appends to a capped lr_buf and ignores what each append
 * returns: what does not fit is cut (not an error) and an allocation failure
 * sticks in the buffer, so the entry points return lr_buf_error(b) once. */

static void clip(lr_buf *b, const char *s, size_t max)
{
	lr_buf_clip(b, s, max, 1);
}

/* sep, then s clipped to max; nothing at all when s is NULL. */
static void put_after(lr_buf *b, const char *sep, const char *s, size_t max)
{
	if (s == NULL)
		return;
	lr_buf_puts(b, sep);
	clip(b, s, max);
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static const char *or_else(const char *s, const char *dflt)
{
	return s ? s : dflt;
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
static void put_where(lr_buf *b, json_object *err)
{
	long line;
	const char *code;

	code_location(err, &line, &code);
	if (line <= 0)
		return;
	lr_buf_printf(b, " at line %ld of the code", line);
	put_after(b, ": ", nonempty(code), LINE_CLIP);
}

/* "TypeError: message" */
static void put_exception(lr_buf *b, json_object *err)
{
	clip(b, or_else(lr_json_str(err, "type"), "an error"), 80);
	put_after(b, ": ", nonempty(lr_json_str(err, "message")), LINE_CLIP);
}

/* Code that raised: the call (if any), the exception and where. */
static void put_raised(lr_buf *b, const char *call, json_object *err, const eval_judge_ctx *ctx)
{
	clip(b, call, VALUE_CLIP);
	lr_buf_puts(b, call ? " raised " : "raised ");
	put_exception(b, err);
	put_where(b, err);
	if (status_is(lr_json_str(err, "type"), "MemoryError"))
		lr_buf_printf(b, " (out of memory: the limit is %ld MB)", ctx->memory_mb);
}

/* "The code does not parse: SyntaxError at line 2, column 5: message" and
 * the line itself. */
static void put_syntax_error(lr_buf *b, json_object *err)
{
	long line = lr_json_int(err, "line", 0), col = lr_json_int(err, "col", 0);
	const char *code = lr_json_str(err, "code");

	lr_buf_puts(b, "The code does not parse: ");
	clip(b, or_else(lr_json_str(err, "type"), "SyntaxError"), 60);
	if (line > 0)
		lr_buf_printf(b, " at line %ld", line);
	if (col > 0)
		lr_buf_printf(b, ", column %ld", col);
	put_after(b, ": ", lr_json_str(err, "message"), LINE_CLIP);
	put_after(b, "\n    ", nonempty(code), LINE_CLIP);
	lr_buf_puts(b, "\n");
}

/* The harness's own failure (the code did not load or run). */
static void put_failure(lr_buf *b, const char *status, json_object *err, const eval_judge_ctx *ctx)
{
	if (status_is(status, "syntax_error")) {
		put_syntax_error(b, err);
		return;
	}
	if (status_is(status, "load_error")) {
		lr_buf_puts(b, "Running the code ");
		put_raised(b, NULL, err, ctx);
		lr_buf_puts(b, "\n");
		return;
	}
	if (status_is(status, "load_timeout")) {
		lr_buf_printf(b, "Running the code did not finish within %.3g s", ctx->timeout_s);
		put_where(b, err);
		lr_buf_puts(b, " (an endless loop at module level?)\n");
		return;
	}
	if (status_is(status, "empty"))
		lr_buf_puts(b, "The code is empty: ");
	else if (status_is(status, "too_big"))
		lr_buf_puts(b, "The code is too big: ");
	else if (status_is(status, "bad_tests"))
		lr_buf_puts(b, "The tests cannot be used (this is not the code's fault): ");
	else if (status_is(status, "memory"))
		lr_buf_printf(
		    b, "Running the code went over the memory limit (%ld MB): ", ctx->memory_mb);
	else
		lr_buf_puts(b, "Running the code failed: ");
	clip(b, or_else(lr_json_str(err, "message"), "no details"), LINE_CLIP);
	if (status_is(status, "bad_tests") && lr_json_int(err, "line", 0) > 0)
		lr_buf_printf(b, " (tests line %ld)", lr_json_int(err, "line", 0));
	lr_buf_puts(b, "\n");
}

/* An io case: what went wrong, and for the first one its input and output. */
static void put_io_case(lr_buf *b, json_object *t)
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

	eval_io_case_text(b, &v);
}

/* "`left op right` is false" */
static void put_false_comparison(lr_buf *b, json_object *a)
{
	lr_buf_puts(b, "`");
	clip(b, lr_json_str(a, "left"), VALUE_CLIP);
	lr_buf_printf(b, " %s ", or_else(lr_json_str(a, "op"), "?"));
	clip(b, lr_json_str(a, "right"), VALUE_CLIP);
	lr_buf_puts(b, "` is false");
}

/* A failed assertion: the call and what it returned against what was
 * expected, or the comparison that was false. */
static void put_failed_assertion(lr_buf *b, json_object *a, json_object *err)
{
	const char *call = lr_json_str(a, "call"), *actual = lr_json_str(a, "actual");
	const char *expected = lr_json_str(a, "expected");

	if (call && actual) {
		clip(b, call, VALUE_CLIP);
		put_after(b, " returned ", actual, VALUE_CLIP);
		if (expected) {
			put_after(b, ", expected ", expected, VALUE_CLIP);
		} else if (lr_json_str(a, "expr")) {
			put_after(b, "; the check `", lr_json_str(a, "expr"), LINE_CLIP);
			lr_buf_puts(b, "` is false");
		}
	} else if (expected && actual) {
		put_after(b, "expected ", expected, VALUE_CLIP);
		put_after(b, ", got ", actual, VALUE_CLIP);
	} else if (lr_json_str(a, "left") && lr_json_str(a, "right")) {
		put_false_comparison(b, a);
	} else {
		put_exception(b, err);
	}
	if (call && lr_json_str(a, "message")) {
		put_after(b, " (", lr_json_str(a, "message"), LINE_CLIP);
		lr_buf_puts(b, ")");
	}
}

/* A case that ran out of time: the call, the message and where. */
static void put_timed_out(lr_buf *b, const char *call, json_object *err)
{
	clip(b, call, VALUE_CLIP);
	if (call)
		lr_buf_puts(b, ": ");
	clip(b, or_else(lr_json_str(err, "message"), "did not finish in time"), LINE_CLIP);
	put_where(b, err);
	lr_buf_puts(b, " (an endless loop, or too slow?)");
}

/* What went wrong in one test case, on the lines after its name. */
static void put_case_detail(lr_buf *b, json_object *t, const eval_judge_ctx *ctx)
{
	const char *st = lr_json_str(t, "status");
	json_object *err = lr_json_obj(t, "error");
	json_object *a = lr_json_obj(t, "assertion");
	const char *call = lr_json_str(a, "call");

	if (lr_json_obj(t, "io") != NULL) { /* an io case: input and output, not calls */
		put_io_case(b, t);
		return;
	}
	lr_buf_puts(b, "   ");
	if (status_is(st, "failed") && a != NULL) {
		put_failed_assertion(b, a, err);
	} else if (status_is(st, "failed")) {
		put_exception(b, err);
		put_where(b, err);
	} else if (status_is(st, "error")) {
		put_raised(b, call, err, ctx);
	} else if (status_is(st, "timeout")) {
		put_timed_out(b, call, err);
	} else {
		clip(b, or_else(lr_json_str(err, "message"), st), LINE_CLIP);
	}
	lr_buf_puts(b, "\n");
	if (nonempty(lr_json_str(t, "stdout"))) {
		put_after(b, "   it printed: ", lr_json_str(t, "stdout"), VALUE_CLIP);
		lr_buf_puts(b, "\n");
	}
}

static int is_failing(json_object *t)
{
	const char *st = lr_json_str(t, "status");
	json_object *p;

	if (st == NULL || !strcmp(st, "passed") || !strcmp(st, "skipped"))
		return 0;
	return !(json_object_object_get_ex(t, "passed", &p) && json_object_get_boolean(p));
}

static void put_case_head(lr_buf *b, json_object *t)
{
	if (lr_json_obj(t, "io") != NULL || status_is(lr_json_str(t, "form"), "io")) {
		clip(b, or_else(lr_json_str(t, "name"), "a case"), 40);
		return;
	}
	clip(b, or_else(lr_json_str(t, "name"), "a test"), LINE_CLIP);
	lr_buf_printf(b, " (%s line %ld)",
	              status_is(lr_json_str(t, "file"), "solution") ? "code" : "tests",
	              lr_json_int(t, "line", 0));
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

/* "2 tests did not run: why." for the failing tests that never ran. */
static void put_not_run(lr_buf *b, const eval_facts *f)
{
	json_object *tests = lr_json_arr(f->ans, "tests");
	size_t n = tests ? json_object_array_length(tests) : 0;
	json_object *first = NULL;
	const char *why;
	int not_run = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(tests, i);

		if (is_failing(t) && failure_rank(t) == 2 && not_run++ == 0)
			first = t;
	}
	if (not_run == 0)
		return;
	why = lr_json_str(lr_json_obj(first, "error"), "message");
	if (why && strncmp(why, "not run: ", 9) == 0)
		why += 9;
	lr_buf_printf(b, "%d test%s did not run", not_run, not_run == 1 ? "" : "s");
	put_after(b, ": ", why, LINE_CLIP);
	lr_buf_puts(b, ".\n");
}

/* The first EVAL_FAILURES_SHOWN failing tests that ran, one by one, then how
 * many more failed and how many did not run. */
static void put_failing_tests(lr_buf *b, const eval_facts *f, const eval_judge_ctx *ctx)
{
	json_object *t;
	int shown = 0, more = 0;

	while (lr_buf_error(b) == 0 && (t = nth_failure(f, shown + more, 1)) != NULL) {
		if (shown >= EVAL_FAILURES_SHOWN) {
			more++;
			continue;
		}
		lr_buf_printf(b, "%d. ", ++shown);
		put_case_head(b, t);
		lr_buf_puts(b, "\n");
		put_case_detail(b, t, ctx);
	}
	if (more)
		lr_buf_printf(b, "... and %d more failing test%s.\n", more, more == 1 ? "" : "s");
	put_not_run(b, f);
}

/* Findings of one static tool as "- line N: message (tool)" lines. */
static void put_findings(lr_buf *b, const eval_facts *f, const char *tool, const char *kind,
                         lr_severity above, int max)
{
	json_object *st = lr_json_obj(lr_json_obj(f->ans, "static"), tool);
	json_object *list = lr_json_arr(st, "findings");
	size_t n = list ? json_object_array_length(list) : 0;
	int shown = 0;

	for (size_t i = 0; i < n && shown < max; i++) {
		json_object *x = json_object_array_get_idx(list, i);
		lr_severity sev = LR_SEV_NONE;

		if (kind && !status_is(lr_json_str(x, "kind"), kind))
			continue;
		if (!kind &&
		    (lr_severity_parse(lr_json_str(x, "severity"), &sev) < 0 || sev <= above))
			continue;
		shown++;
		lr_buf_printf(b, "- line %ld: ", lr_json_int(x, "line", 0));
		clip(b, lr_json_str(x, "message"), LINE_CLIP);
		if (kind)
			lr_buf_puts(b, " (pyflakes)\n");
		else
			lr_buf_printf(b, " (bandit %s, %s severity)\n",
			              or_else(lr_json_str(x, "test_id"), "?"),
			              lr_severity_name(sev));
	}
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
static void put_other_violations(lr_buf *b, const eval_facts *f, json_object *viol,
                                 const lr_criteria *crit)
{
	size_t n = json_object_array_length(viol);
	int head = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(viol, i);
		const char *c = lr_json_str(v, "criterion");

		if (!c || !strcmp(c, "run") || !strcmp(c, "min_pass_rate") ||
		    !strcmp(c, "max_errors"))
			continue;
		if (!head++)
			lr_buf_puts(b, "Criteria not met:\n");
		lr_buf_puts(b, "* ");
		clip(b, lr_json_str(v, "message"), LINE_CLIP);
		lr_buf_puts(b, "\n");
		if (!strcmp(c, "max_static_errors"))
			put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 5);
		else if (!strcmp(c, "max_lint"))
			put_findings(b, f, "pyflakes", "warning", LR_SEV_NONE, 5);
		else if (!strcmp(c, "max_security"))
			put_findings(b, f, "bandit", NULL, crit->max_security, 5);
	}
}

/* Code that passed: how well, and what is still worth tidying. */
static void put_passed(lr_buf *b, const eval_facts *f)
{
	if (f->tests_total)
		lr_buf_printf(b, "All %d tests pass.\n", f->tests_total);
	else
		lr_buf_puts(b, "The code ran to the end without errors.\n");
	if (f->pyflakes_ran && (f->lint_warnings || f->static_errors)) {
		lr_buf_puts(b, "Worth tidying:\n");
		put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 3);
		put_findings(b, f, "pyflakes", "warning", LR_SEV_NONE, 3);
	}
	if (f->bandit_ran && f->worst_severity >= LR_SEV_MEDIUM)
		put_findings(b, f, "bandit", NULL, LR_SEV_LOW, 3);
	if (f->radon_ran && f->max_complexity > 10)
		lr_buf_printf(b,
		              "- %s (line %ld) has cyclomatic complexity %ld; consider "
		              "splitting it\n",
		              or_else(f->max_complexity_fn, "a function"), f->max_complexity_line,
		              f->max_complexity);
}

/* The run itself failed (a limit, a crash, no usable answer): why, and the
 * end of its error output. */
static void put_run_failed(lr_buf *b, json_object *viol, const sbx_result *run)
{
	lr_buf_puts(b, "The evaluation failed: ");
	clip(b, lr_json_str(json_object_array_get_idx(viol, 0), "message"), LINE_CLIP);
	if (run->end == SBX_END_TIMEOUT)
		lr_buf_puts(b, " (an endless loop, or far too slow?)");
	if (run->end == SBX_END_MEMORY)
		lr_buf_puts(b, " (allocate less: large lists, deep recursion, caches)");
	lr_buf_puts(b, ".\n");
	if (run->err_len) {
		lr_buf_puts(b, "Its error output ends with: ");
		clip(b, run->err_len > 300 ? run->err + run->err_len - 300 : run->err, 300);
		lr_buf_puts(b, "\n");
	}
}

int eval_feedback_text(lr_buf *b, const eval_facts *f, json_object *viol, const lr_criteria *crit,
                       const sbx_result *run, const eval_judge_ctx *ctx, int passed)
{
	if (passed) {
		put_passed(b, f);
		return lr_buf_error(b);
	}
	/* 1. The run itself. */
	if (run->end != SBX_END_EXITED || f->ans == NULL) {
		put_run_failed(b, viol, run);
		return lr_buf_error(b);
	}
	/* 2. The code did not load or could not be tested. */
	if (!f->ran && f->failure != NULL)
		put_failure(b, f->status, f->failure, ctx);
	else if (!f->ran)
		lr_buf_printf(b, "The code did not run (%s).\n", or_else(f->status, "unknown"));
	/* 3. Failing tests. */
	if (f->tests_total > f->tests_passed) {
		int failing = f->tests_total - f->tests_passed;

		if (f->ran || f->tests_passed == 0)
			lr_buf_printf(b, "%d of %d test%s fail%s:\n", failing, f->tests_total,
			              f->tests_total == 1 ? "" : "s", failing == 1 ? "s" : "");
		put_failing_tests(b, f, ctx);
	} else if (f->ran && violated(viol, "max_errors")) {
		lr_buf_puts(b, "The tests pass, but there were runtime errors.\n");
	}
	/* 4. What the static tools decide. */
	put_other_violations(b, f, viol, crit);
	/* Undefined names are likely the bug even when not a criterion. */
	if (f->static_errors > 0 && !violated(viol, "max_static_errors") &&
	    json_object_array_length(viol) > 0) {
		lr_buf_puts(b, "pyflakes also reports:\n");
		put_findings(b, f, "pyflakes", "error", LR_SEV_NONE, 3);
	}
	return lr_buf_error(b);
}

/* The first failing test in a few words: "name (tests line N): got X, expected Y". */
static void put_first_failure(lr_buf *b, const eval_facts *f)
{
	json_object *t = nth_failure(f, 0, 2);
	json_object *a = lr_json_obj(t, "assertion"), *err = lr_json_obj(t, "error");

	if (t == NULL)
		return;
	put_case_head(b, t);
	if (lr_json_str(a, "actual") && lr_json_str(a, "expected")) {
		put_after(b, ": got ", lr_json_str(a, "actual"), 60);
		put_after(b, ", expected ", lr_json_str(a, "expected"), 60);
	} else if (err) {
		lr_buf_puts(b, ": ");
		put_exception(b, err);
	}
}

/* "SyntaxError at line 2: message" for code that did not load. */
static void put_load_failure(lr_buf *b, const eval_facts *f)
{
	long line;
	const char *code;

	clip(b, or_else(lr_json_str(f->failure, "type"), "error"), 60);
	code_location(f->failure, &line, &code);
	if (line <= 0 && status_is(f->status, "syntax_error"))
		line = lr_json_int(f->failure, "line", 0);
	if (line > 0)
		lr_buf_printf(b, " at line %ld", line);
	put_after(b, ": ", nonempty(lr_json_str(f->failure, "message")), 200);
}

int eval_error_text(lr_buf *b, const eval_facts *f, json_object *viol, const sbx_result *run,
                    const eval_judge_ctx *ctx)
{
	json_object *v = json_object_array_get_idx(viol, 0);
	const char *c = lr_json_str(v, "criterion");

	(void)ctx;
	if (v == NULL)
		return 0;
	if (run->end == SBX_END_EXITED && f->ans && !f->ran && f->failure) {
		put_load_failure(b, f);
	} else if (c && (!strcmp(c, "min_pass_rate") || !strcmp(c, "max_errors")) &&
	           f->tests_total > f->tests_passed) {
		lr_buf_printf(b, "%d of %d tests fail; first: ", f->tests_total - f->tests_passed,
		              f->tests_total);
		put_first_failure(b, f);
	} else {
		clip(b, lr_json_str(v, "message"), 300);
	}
	return lr_buf_error(b);
}

int eval_summary_text(lr_buf *b, const eval_facts *f, json_object *viol, const sbx_result *run,
                      const eval_judge_ctx *ctx, int passed, double score)
{
	lr_buf e;
	int rc;

	if (passed && f->tests_total)
		lr_buf_printf(b, "passed: %d/%d tests, score %.2f", f->tests_passed, f->tests_total,
		              score);
	else if (passed)
		lr_buf_printf(b, "passed: ran without errors, score %.2f", score);
	if (passed)
		return lr_buf_error(b);
	lr_buf_puts(b, "failed: ");
	if (f->ran && f->tests_total > f->tests_passed) {
		lr_buf_printf(b, "%d/%d tests pass; first failure: ", f->tests_passed,
		              f->tests_total);
		put_first_failure(b, f);
		return lr_buf_error(b);
	}
	/* The error text, cut to the summary's own size. */
	lr_buf_init(&e, 200);
	rc = eval_error_text(&e, f, viol, run, ctx);
	if (rc == 0)
		clip(b, or_else(e.data, ""), 200);
	lr_buf_free(&e);
	return rc < 0 ? rc : lr_buf_error(b);
}
