/* eval_io.c - a whole program against io test cases, judged on the host
 * (see eval_io.h). */
#include "eval_io.h"

#include "eval_report.h"
#include "eval_static.h"
#include "json.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREPARE_TIMEOUT_S 30.0 /* a cold start importing the static tools */
#define STDIN_MAGIC       "LLMREPL-STDIN "
#define STATIC_BUDGET_S   5.0 /* llmrepl_io.STATIC_BUDGET_S */

typedef struct io_run {
	const eval_request *req;
	sbx_pool *pool;
	const sbx_config *cfg;
	sbx_limits lim;
	char *exec_json; /* {"mode": "exec", "code": ...} */
	size_t exec_len;
	json_object *tests; /* the report's cases */
	int passed, failed_shown;
	double wall_s, cpu_s;
	long peak_kb;
	unsigned isolation;
} io_run;

/* The run's process died before anything of the request ran: the sandbox's
 * entry exits 125 when it cannot join the run's cgroups, before it reads the
 * request, and leaves no answer and no output. (A program that exits 125
 * itself has its answer written by the entry, or output, or is run twice
 * and judged the same.) */
static int never_started(const sbx_result *res)
{
	return res->end == SBX_END_EXITED && res->exit_code == 125 && res->answer == NULL &&
	       res->out_len == 0 && res->err_len == 0;
}

/* One sandbox run; a run that never started is run once more. */
static int sandbox(sbx_result *res, const io_run *r, const sbx_limits *lim, const char *text,
                   size_t len, lr_err *err)
{
	int rc;

	for (int tries = 0;; tries++) {
		memset(res, 0, sizeof(*res));
		if (r->pool != NULL)
			rc = sbx_pool_run(r->pool, res, lim, text, len);
		else
			rc = sbx_run(res, r->cfg, lim, text, len);
		if (rc < 0 || tries > 0 || !never_started(res))
			break;
		sbx_result_free(res);
	}
	if (rc < 0 || res->end == SBX_END_ERROR) {
		rc = lr_err_set(err, LR_EUNAVAIL, "sandbox: %s",
		                res->detail[0] ? res->detail : "the run could not be started");
		sbx_result_free(res);
		return rc;
	}
	return 0;
}

/* A string member made of n bytes of s, cleaned to UTF-8 and clipped. */
static int set_clean(json_object *o, const char *key, const char *s, size_t n, size_t max)
{
	size_t len = 0;
	char *c = lr_utf8_clean(s ? s : "", s ? n : 0, max, &len);
	int rc;

	if (c == NULL)
		return LR_ENOMEM;
	rc = lr_json_set_strn(o, key, c, len);
	free(c);
	return rc;
}

static json_object *error_obj(const char *type, const char *msg)
{
	json_object *e = json_object_new_object();

	if (e == NULL || lr_json_set_str(e, "type", type) ||
	    set_clean(e, "message", msg, strlen(msg), 600)) {
		json_object_put(e);
		return NULL;
	}
	return e;
}

/* ---- step 1: is it a program at all, and the static tools ---------------- */

/* The static service's findings into the prepared answer, where the
 * sandbox would have put its own: only when the code is runnable. */
static int put_static(json_object *prep, json_object *st, double secs)
{
	const char *status = lr_json_str(prep, "status");
	json_object *m = lr_json_member(prep, "metrics", json_type_object);

	if (st == NULL || status == NULL || strcmp(status, "ok") != 0)
		return 0;
	if (lr_json_set_obj(prep, "static", json_object_get(st)) < 0 ||
	    (m != NULL && lr_json_set_num(m, "static_s", secs) < 0))
		return -1;
	return 0;
}

static int prepare(io_run *r, json_object **prep, lr_err *err)
{
	json_object *q = json_object_new_object(), *st = NULL;
	sbx_limits lim;
	sbx_result res;
	char *text = NULL;
	lr_err perr;
	double st_s = 0;
	int rc = LR_ENOMEM, tools = r->req->static_checks != 0;

	*prep = NULL;
	/* The static checks in the static service when it answers, else in the
	 * sandbox's prepare step (which then imports the tools). */
	if (tools && strlen(r->req->code) <= EVAL_CODE_MAX &&
	    eval_static_run(r->cfg, r->req->code, STATIC_BUDGET_S, &st, &st_s) >= 0)
		tools = 0;
	if (tools)
		sbx_pool_want(r->pool, SBX_WANT_STATIC); /* as eval_run does */
	if (q == NULL || lr_json_set_str(q, "mode", "io_prepare") ||
	    lr_json_set_str(q, "code", r->req->code) || lr_json_set_bool(q, "static", tools) ||
	    lr_json_set_int(q, "max_code_bytes", (long)EVAL_CODE_MAX) ||
	    (text = lr_json_dump(q)) == NULL) {
		json_object_put(q);
		json_object_put(st);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	json_object_put(q);
	sbx_limits_default(&lim);
	lim.timeout_s = PREPARE_TIMEOUT_S;
	lim.memory_mb = r->lim.memory_mb > lim.memory_mb ? r->lim.memory_mb : lim.memory_mb;
	rc = sandbox(&res, r, &lim, text, strlen(text), err);
	free(text);
	if (rc < 0) {
		json_object_put(st);
		return rc;
	}
	/* Nothing of the code ran here: an answer that does not parse is the
	 * sandbox's own trouble, and the cases still say what the code does. */
	if (res.end == SBX_END_EXITED && res.answer != NULL &&
	    lr_json_parse(prep, res.answer, res.answer_len, EVAL_ANSWER_MAX, EVAL_ANSWER_DEPTH,
	                  &perr) == 0 &&
	    !json_object_is_type(*prep, json_type_object)) {
		json_object_put(*prep);
		*prep = NULL;
	}
	sbx_result_free(&res);
	rc = put_static(*prep, st, st_s) < 0 ? lr_err_set(err, LR_ENOMEM, "out of memory") : 0;
	json_object_put(st);
	return rc;
}

/* ---- step 2: one case ------------------------------------------------------ */

/* "LLMREPL-STDIN <n>\n", the exec request, the case's stdin. */
static char *case_request(const io_run *r, const lr_iocase *c, size_t *len)
{
	char head[48];
	int hl = snprintf(head, sizeof(head), STDIN_MAGIC "%zu\n", r->exec_len);
	char *buf = malloc((size_t)hl + r->exec_len + c->in_len + 1);

	if (buf == NULL)
		return NULL;
	memcpy(buf, head, (size_t)hl);
	memcpy(buf + hl, r->exec_json, r->exec_len);
	memcpy(buf + hl + r->exec_len, c->in, c->in_len);
	*len = (size_t)hl + r->exec_len + c->in_len;
	buf[*len] = '\0';
	return buf;
}

/* The exception the program's process reported (untrusted: only words for
 * the feedback, never part of the verdict). */
static json_object *exec_error(const sbx_result *res)
{
	json_object *a = NULL, *e, *v;
	lr_err perr;
	char msg[700];
	const char *type, *m;
	long line;

	if (res->answer == NULL ||
	    lr_json_parse(&a, res->answer, res->answer_len, 65536, 8, &perr) < 0)
		a = NULL;
	e = a ? lr_json_obj(a, "error") : NULL;
	type = lr_json_str(e, "type");
	m = lr_json_str(e, "message");
	line = lr_json_int(e, "line", 0);
	if (type == NULL) {
		snprintf(msg, sizeof(msg), "the program exited with status %d", res->exit_code);
		json_object_put(a);
		return error_obj("ExitStatus", msg);
	}
	snprintf(msg, sizeof(msg), "%.120s%s%.400s", type, m && *m ? ": " : "", m ? m : "");
	v = error_obj(type, m ? m : "");
	if (v != NULL && line > 0 && lr_json_set_int(v, "line", line) == 0)
		lr_json_set_str(v, "file", "solution");
	(void)msg;
	json_object_put(a);
	return v;
}

/* The job's python checker on one case: 1 accepted, 0 not (why in *why,
 * owned), < 0 when the sandbox could not run. */
static int python_check(io_run *r, const lr_iocase *c, const char *actual, size_t alen, char **why,
                        lr_err *err)
{
	json_object *q = json_object_new_object(), *a = NULL;
	sbx_limits lim = r->lim;
	sbx_result res;
	char *text = NULL;
	char msg[800];
	lr_err perr;
	int rc, verdict = 0;

	*why = NULL;
	if (q == NULL || lr_json_set_str(q, "mode", "io_check") ||
	    lr_json_set_str(q, "code", r->req->io->checker_code) ||
	    set_clean(q, "stdin", c->in, c->in_len, 0) ||
	    set_clean(q, "expected", c->out, c->out_len, 0) ||
	    set_clean(q, "actual", actual, alen, 0) || (text = lr_json_dump(q)) == NULL) {
		json_object_put(q);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	json_object_put(q);
	lim.output_max = 0;
	rc = sandbox(&res, r, &lim, text, strlen(text), err);
	free(text);
	if (rc < 0)
		return rc;
	if (res.end != SBX_END_EXITED) {
		snprintf(msg, sizeof(msg), "the checker did not finish: its run ended %s",
		         sbx_end_name(res.end));
	} else if (res.answer == NULL ||
	           lr_json_parse(&a, res.answer, res.answer_len, 65536, 8, &perr) < 0 ||
	           !json_object_is_type(a, json_type_object)) {
		snprintf(msg, sizeof(msg), "the checker gave no answer (exit status %d)",
		         res.exit_code);
	} else if (json_object_get_boolean(json_object_object_get(a, "ok"))) {
		json_object *p = json_object_object_get(a, "passed");
		const char *m = lr_json_str(a, "message");

		verdict =
		    p && json_object_is_type(p, json_type_boolean) && json_object_get_boolean(p);
		snprintf(msg, sizeof(msg), "%s%.500s",
		         m ? "the checker says: " : "the checker does not accept the output",
		         m ? m : "");
	} else {
		json_object *e = lr_json_obj(a, "error");
		const char *t = lr_json_str(e, "type"), *m = lr_json_str(e, "message");
		long line = lr_json_int(e, "line", 0);
		char at[32] = "";

		if (line > 0)
			snprintf(at, sizeof(at), " at line %ld", line);
		snprintf(msg, sizeof(msg), "the checker raised %.80s%s%s%.400s", t ? t : "an error",
		         at, m && *m ? ": " : "", m ? m : "");
	}
	json_object_put(a);
	sbx_result_free(&res);
	if (verdict)
		return 1;
	*why = strdup(msg);
	return *why ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV, a segmentation fault";
	case SIGABRT: return "SIGABRT, an abort";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGKILL: return "SIGKILL";
	case SIGSYS: return "SIGSYS, a forbidden system call";
	case SIGXFSZ: return "SIGXFSZ, a file over the size limit";
	default: return "a signal";
	}
}

/* Judge one finished run: status, error and diff into `t` and `io`. */
static int judge_case(io_run *r, const lr_iocase *c, const sbx_result *res, size_t cap,
                      json_object *t, json_object *io, const char **status, lr_err *err)
{
	const lr_iotests *tests = r->req->io;
	char diff[LR_IO_DIFF_MAX + 1];
	char msg[300];
	json_object *e = NULL;
	char *why = NULL;
	int ok, rc = 0;

	diff[0] = '\0';
	switch (res->end) {
	case SBX_END_TIMEOUT:
		*status = "timeout";
		snprintf(msg, sizeof(msg), "the program did not finish within %.3g s",
		         r->lim.timeout_s);
		e = error_obj("Timeout", msg);
		break;
	case SBX_END_MEMORY:
		*status = "memory";
		snprintf(msg, sizeof(msg), "the program went over the memory limit of %ld MB",
		         r->lim.memory_mb);
		e = error_obj("MemoryError", msg);
		break;
	case SBX_END_OUTPUT:
		*status = "output";
		snprintf(msg, sizeof(msg),
		         "the program wrote more than the %zu bytes allowed to %s", cap,
		         res->err_truncated && !res->out_truncated ? "stderr" : "stdout");
		e = error_obj("OutputLimit", msg);
		break;
	case SBX_END_SIGNALED:
		*status = "crashed";
		snprintf(msg, sizeof(msg), "the program was killed by signal %d (%s)", res->signal,
		         signal_name(res->signal));
		e = error_obj("Crash", msg);
		break;
	case SBX_END_EXITED:
		if (res->exit_code != 0) {
			*status = "error";
			e = exec_error(res);
			break;
		}
		if (tests->checker == LR_CHECK_PYTHON) {
			rc = python_check(r, c, res->out, res->out_len, &why, err);
			if (rc < 0)
				return rc;
			ok = rc;
			rc = 0;
			if (why)
				snprintf(diff, sizeof(diff), "%.*s", LR_IO_DIFF_MAX, why);
			free(why);
		} else {
			ok = lr_io_compare(tests, c->out, c->out_len, res->out, res->out_len, diff,
			                   sizeof(diff));
		}
		*status = ok ? "passed" : "failed";
		if (!ok)
			e = error_obj("WrongAnswer", diff);
		break;
	default: *status = "error"; e = error_obj("SandboxError", "the run ended unexpectedly");
	}
	if (strcmp(*status, "passed") != 0 && e == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (e != NULL && lr_json_set_obj(t, "error", e) < 0)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (diff[0] && lr_json_set_str(io, "diff", diff) < 0)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

static int run_case(io_run *r, size_t i, int *failed, lr_err *err)
{
	const lr_iocase *c = &r->req->io->cases[i];
	sbx_limits lim = r->lim;
	sbx_result res;
	json_object *t = json_object_new_object(), *io = json_object_new_object();
	const char *status = "error";
	char name[32];
	char *text;
	size_t len = 0;
	int rc;

	if (t == NULL || io == NULL) {
		json_object_put(t);
		json_object_put(io);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	/* Room for the expected output twice over, so a near miss is seen whole. */
	if (c->out_len < (EVAL_IO_OUTPUT_MAX - 65536) / 2 &&
	    2 * c->out_len + 65536 > lim.output_max)
		lim.output_max = 2 * c->out_len + 65536;
	text = case_request(r, c, &len);
	rc = text ? sandbox(&res, r, &lim, text, len, err)
	          : lr_err_set(err, LR_ENOMEM, "out of memory");
	free(text);
	if (rc < 0) {
		json_object_put(t);
		json_object_put(io);
		return rc;
	}
	r->wall_s += res.wall_s;
	r->cpu_s += res.cpu_s;
	if (res.peak_kb > r->peak_kb)
		r->peak_kb = res.peak_kb;
	r->isolation = res.isolation;
	snprintf(name, sizeof(name), "case %zu", i + 1);
	rc = judge_case(r, c, &res, lim.output_max, t, io, &status, err);
	if (rc == 0) {
		int pass = strcmp(status, "passed") == 0;

		*failed = !pass;
		r->passed += pass;
		rc = lr_json_set_str(t, "name", name);
		rc |= lr_json_set_int(t, "index", (long)i);
		rc |= lr_json_set_str(t, "status", status);
		rc |= lr_json_set_bool(t, "passed", pass);
		rc |= lr_json_set_num(t, "duration_s", res.wall_s);
		rc |= lr_json_set_num(t, "cpu_s", res.cpu_s);
		rc |= lr_json_set_int(t, "peak_kb", res.peak_kb);
		rc |= lr_json_set_int(t, "exit_code", res.exit_code);
		rc |= lr_json_set_int(t, "signal", res.signal);
		rc |= set_clean(io, "stdin", c->in, c->in_len, EVAL_IO_SHOWN);
		rc |= set_clean(io, "expected", c->out, c->out_len, EVAL_IO_SHOWN);
		rc |= set_clean(io, "actual", res.out, res.out_len, EVAL_IO_SHOWN);
		rc |= set_clean(io, "stderr", res.err, res.err_len, EVAL_IO_SHOWN);
		rc |= lr_json_set_int(io, "stdin_bytes", (long)c->in_len);
		rc |= lr_json_set_int(io, "expected_bytes", (long)c->out_len);
		rc |= lr_json_set_int(io, "actual_bytes", (long)res.out_len);
		rc |= lr_json_set_bool(io, "actual_truncated", res.out_truncated);
		if (!pass && !r->failed_shown++)
			rc |= lr_json_set_bool(io, "detail", 1);
		rc |= lr_json_set_obj(t, "io", io);
		io = NULL;
		if (rc == 0 && json_object_array_add(r->tests, t) == 0)
			t = NULL;
		else
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	json_object_put(t);
	json_object_put(io);
	sbx_result_free(&res);
	return rc;
}

static int add_not_run(io_run *r, size_t i, lr_err *err)
{
	json_object *t = json_object_new_object();
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "case %zu", i + 1);
	if (t == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = lr_json_set_str(t, "name", name);
	rc |= lr_json_set_int(t, "index", (long)i);
	rc |= lr_json_set_str(t, "status", "not_run");
	rc |= lr_json_set_str(t, "form", "io");
	rc |= lr_json_set_bool(t, "passed", 0);
	rc |= lr_json_set_obj(t, "error",
	                      error_obj("NotRun", "not run: an earlier case failed and the tests "
	                                          "stop on the first failure"));
	if (rc == 0 && json_object_array_add(r->tests, t) == 0)
		return 0;
	json_object_put(t);
	return lr_err_set(err, LR_ENOMEM, "out of memory");
}

/* ---- step 4: the report, judged like any other ------------------------------ */

static int judge_all(eval_outcome *out, io_run *r, json_object *prep, size_t total, lr_err *err)
{
	json_object *a = json_object_new_object(), *m = json_object_new_object(), *v;
	const char *status = lr_json_str(prep, "status");
	int runnable = status == NULL || strcmp(status, "ok") == 0;
	eval_judge_ctx ctx;
	sbx_result res;
	char *text = NULL;
	int rc = 0;

	if (a == NULL || m == NULL) {
		json_object_put(a);
		json_object_put(m);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	if (!runnable)
		rc |= lr_json_set_str(a, "status", status);
	else
		rc |= lr_json_set_str(a, "status",
		                      (size_t)r->passed == total ? "ok" : "tests_failed");
	rc |= lr_json_set_int(a, "harness", 1);
	rc |= lr_json_set_str(a, "form", "io");
	rc |= lr_json_set_str(a, "integrity", "split"); /* the host judged every case */
	rc |= lr_json_set_str(a, "checker", lr_check_kind_name(r->req->io->checker));
	rc |= lr_json_set_int(a, "tests_total", runnable ? (long)total : 0);
	rc |= lr_json_set_int(a, "tests_passed", runnable ? r->passed : 0);
	rc |= lr_json_set_obj(a, "tests", json_object_get(r->tests));
	v = lr_json_obj(prep, "error");
	rc |= lr_json_set_obj(a, "error", v ? json_object_get(v) : NULL);
	v = lr_json_obj(prep, "static");
	rc |= lr_json_set_obj(a, "static", v ? json_object_get(v) : NULL);
	v = lr_json_obj(prep, "metrics");
	if (v != NULL) {
		json_object_object_foreach(v, k, x)
		{
			rc |= lr_json_set_obj(m, k, json_object_get(x));
		}
	}
	rc |= lr_json_set_num(m, "load_s", 0);
	rc |= lr_json_set_num(m, "tests_s", r->wall_s);
	rc |= lr_json_set_num(m, "cpu_s", r->cpu_s);
	rc |= lr_json_set_int(m, "peak_memory_kb", r->peak_kb);
	rc |= lr_json_set_obj(a, "metrics", m);
	m = NULL;
	if (rc == 0)
		text = lr_json_dump(a);
	json_object_put(a);
	json_object_put(m);
	if (text == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	memset(&res, 0, sizeof(res));
	res.end = SBX_END_EXITED;
	res.answer = text;
	res.answer_len = strlen(text);
	res.out = (char *)"";
	res.err = (char *)"";
	res.wall_s = r->wall_s;
	res.cpu_s = r->cpu_s;
	res.peak_kb = r->peak_kb;
	res.isolation = r->isolation;
	memset(&ctx, 0, sizeof(ctx));
	ctx.timeout_s = r->lim.timeout_s;
	ctx.memory_mb = r->lim.memory_mb;
	ctx.output_max = r->lim.output_max;
	ctx.test_timeout_s = r->lim.timeout_s;
	ctx.split = 1;
	rc = eval_judge(out, &res, r->req->criteria, &ctx, err);
	free(text);
	return rc;
}

int eval_io_run(eval_outcome *out, sbx_pool *pool, const sbx_config *cfg, const eval_request *req,
                const sbx_limits *lim, lr_err *err)
{
	io_run r;
	json_object *q = NULL, *prep = NULL;
	const char *status;
	size_t i = 0, n = req->io->n;
	int rc, failed = 0;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.req = req;
	r.pool = pool;
	r.cfg = cfg;
	r.lim = *lim;
	r.tests = json_object_new_array();
	q = json_object_new_object();
	if (r.tests == NULL || q == NULL || lr_json_set_str(q, "mode", "exec") ||
	    lr_json_set_str(q, "code", req->code) || (r.exec_json = lr_json_dump(q)) == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	r.exec_len = strlen(r.exec_json);
	rc = req->stop ? req->stop(req->stop_arg, err) : 0;
	if (rc == 0)
		rc = prepare(&r, &prep, err);
	if (rc < 0)
		goto cleanup;
	status = lr_json_str(prep, "status");
	if (status != NULL && strcmp(status, "ok") != 0)
		n = 0; /* not runnable: nothing to run */
	for (i = 0; i < n && rc == 0; i++) {
		int f = 0;

		if (failed && req->io->stop_on_failure)
			rc = add_not_run(&r, i, err);
		else if (req->stop && (rc = req->stop(req->stop_arg, err)) != 0)
			break;
		else
			rc = run_case(&r, i, &f, err);
		failed |= f;
	}
	if (rc == 0)
		rc = judge_all(out, &r, prep, n, err);
cleanup:
	json_object_put(q);
	json_object_put(prep);
	json_object_put(r.tests);
	free(r.exec_json);
	return rc;
}
