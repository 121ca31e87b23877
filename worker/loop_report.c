/* loop_report.c - report.json of an iteration, read back for resuming, the
 * refactor's review, and the job's result. */
#include "loop_report.h"

#include "buf.h"
#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_SHOWN    2048 /* bytes of a reply without code kept in its report */
#define REVIEW_MAX     4096 /* bytes of a refactor's review */
#define REVIEW_ITEMS   8    /* findings listed one by one */
#define COMPLEXITY_MAX 10   /* radon's rank B starts above this */
#define SUMMARY_MAX    400  /* bytes of an outcome summary */

void loop_hash_hex(char buf[17], uint64_t h)
{
	snprintf(buf, 17, "%016" PRIx64, h);
}

static int parse_hex(uint64_t *out, const char *s)
{
	char *end = NULL;
	unsigned long long v;

	*out = 0;
	if (s == NULL)
		return 0;
	if (strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return LR_EPROTO;
	v = strtoull(s, &end, 16);
	if (end == NULL || *end != '\0')
		return LR_EPROTO;
	*out = (uint64_t)v;
	return 0;
}

static int parse_object(json_object **out, const char *text, size_t len, lr_err *err)
{
	int rc = lr_json_parse(out, text, len, LOOP_REPORT_MAX, 64, err);

	if (rc == 0 && !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return lr_err_set(err, LR_EINVAL, "a report must be a JSON object");
	}
	return rc;
}

static int set_hash(json_object *o, const char *key, uint64_t h)
{
	char hex[17];

	if (h == 0)
		return lr_json_set_str(o, key, NULL);
	loop_hash_hex(hex, h);
	return lr_json_set_str(o, key, hex);
}

/* Milliseconds rounded to 0.1, seconds to 0.001: reports stay readable. */
static double r1(double v)
{
	return round(v * 10) / 10;
}

static double r3(double v)
{
	return round(v * 1000) / 1000;
}

static json_object *meta_json(const loop_meta *m)
{
	json_object *o = json_object_new_object(), *tok = json_object_new_object();
	json_object *tim = json_object_new_object();
	int rc;

	if (o == NULL || tok == NULL || tim == NULL)
		goto oom;
	rc = lr_json_set_int(o, "iteration", m->iteration);
	rc |= lr_json_set_str(o, "phase", loop_phase_name(m->phase));
	rc |= lr_json_set_int(o, "attempt", m->attempt);
	rc |= m->base >= 0 ? lr_json_set_int(o, "base", m->base) : lr_json_set_obj(o, "base", NULL);
	rc |= lr_json_set_bool(o, "has_code", m->has_code);
	rc |= set_hash(o, "code_hash", m->code_hash);
	rc |= set_hash(o, "failure_hash", m->failure_hash);
	rc |= lr_json_set_int(tok, "prompt", m->tokens_prompt);
	rc |= lr_json_set_int(tok, "completion", m->tokens_completion);
	rc |= lr_json_set_int(tok, "total", m->tokens_prompt + m->tokens_completion);
	rc |= lr_json_set_obj(o, "tokens", tok);
	tok = NULL;
	rc |= lr_json_set_int(o, "tokens_total", m->tokens_total);
	rc |= lr_json_set_num(o, "elapsed_s", r3(m->elapsed_s));
	rc |= lr_json_set_num(tim, "model", r1(m->t_model_ms));
	rc |= lr_json_set_num(tim, "eval", r1(m->t_eval_ms));
	rc |= lr_json_set_obj(o, "timings_ms", tim);
	tim = NULL;
	rc |= lr_json_set_str(o, "model", m->model);
	rc |= lr_json_set_str(o, "finish_reason", m->finish_reason);
	rc |= lr_json_set_str(o, "extract", m->extract ? m->extract : "none");
	if (m->usage_dropped > 0)
		rc |= lr_json_set_int(o, "usage_dropped", m->usage_dropped);
	if (m->early_stop)
		rc |= lr_json_set_bool(o, "early_stop", 1);
	if (m->stopped_at)
		rc |= lr_json_set_str(o, "stopped_at", m->stopped_at);
	if (m->candidates != NULL)
		rc |= lr_json_set_obj(o, "candidates", json_object_get(m->candidates));
	if (m->phase == LOOP_PHASE_REFACTOR) {
		json_object *rf = json_object_new_object();

		if (rf == NULL || lr_json_set_bool(rf, "kept", m->refactor_kept) ||
		    lr_json_set_str(rf, "reason", m->refactor_reason)) {
			json_object_put(rf);
			goto oom;
		}
		rc |= lr_json_set_obj(o, "refactor", rf);
	}
	if (rc == 0)
		return o;
oom:
	json_object_put(tok);
	json_object_put(tim);
	json_object_put(o);
	return NULL;
}

int loop_report_build(char **out, const char *eval_report, const loop_meta *m, lr_err *err)
{
	json_object *root = NULL, *meta;
	int rc;

	*out = NULL;
	rc = parse_object(&root, eval_report, strlen(eval_report), err);
	if (rc < 0)
		return lr_err_set(err, LR_EINVAL, "the evaluation report is not a JSON object");
	meta = meta_json(m);
	if (meta == NULL || lr_json_set_obj(root, "loop", meta) < 0 ||
	    (*out = lr_json_dump(root)) == NULL) {
		json_object_put(root);
		return lr_err_set(err, LR_ENOMEM, "out of memory building report.json");
	}
	json_object_put(root);
	return 0;
}

int loop_report_no_code(char **out, const char *why, const char *reply, lr_err *err)
{
	json_object *o = json_object_new_object();
	char fb[600];
	size_t rlen = reply ? strlen(reply) : 0;
	int rc;

	*out = NULL;
	snprintf(fb, sizeof(fb),
	         "Your reply had no Python code in it (%s). Answer with the complete code in "
	         "one ```python block.",
	         why ? why : "no code found");
	if (o == NULL)
		goto oom;
	rc = lr_json_set_int(o, "harness", 0);
	rc |= lr_json_set_str(o, "status", "no_code");
	rc |= lr_json_set_str(o, "error", why ? why : "the model's reply has no code");
	rc |= lr_json_set_obj(o, "tests", json_object_new_array());
	rc |= lr_json_set_int(o, "tests_total", 0);
	rc |= lr_json_set_int(o, "tests_passed", 0);
	rc |= lr_json_set_str(o, "verdict", "failed");
	rc |= lr_json_set_bool(o, "passed", 0);
	rc |= lr_json_set_num(o, "score", 0);
	rc |= lr_json_set_str(o, "feedback", fb);
	rc |= lr_json_set_str(o, "summary", "no code in the model's reply");
	rc |= lr_json_set_strn(o, "reply", reply ? reply : "",
	                       rlen > REPLY_SHOWN ? REPLY_SHOWN : rlen);
	rc |= lr_json_set_bool(o, "reply_truncated", rlen > REPLY_SHOWN);
	if (rc != 0 || (*out = lr_json_dump(o)) == NULL)
		goto oom;
	json_object_put(o);
	return 0;
oom:
	json_object_put(o);
	return lr_err_set(err, LR_ENOMEM, "out of memory");
}

int loop_report_read(loop_saved *out, const char *report, size_t len, lr_err *err)
{
	json_object *root = NULL, *m, *tok;
	const char *phase;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = parse_object(&root, report, len, err);
	if (rc < 0) {
		lr_err_prefix(err, "report.json does not parse");
		if (err)
			err->code = LR_EPROTO;
		return LR_EPROTO;
	}
	m = lr_json_member(root, "loop", json_type_object);
	phase = lr_json_str(m, "phase");
	if (m == NULL || phase == NULL || loop_phase_parse(&out->it.phase, phase) < 0 ||
	    lr_json_member(m, "iteration", json_type_int) == NULL ||
	    lr_json_member(m, "has_code", json_type_boolean) == NULL) {
		json_object_put(root);
		return lr_err_set(
		    err, LR_EPROTO,
		    "report.json is not a loop iteration's report (no valid \"loop\")");
	}
	out->iteration = (long)lr_json_num(m, "iteration", -1);
	out->attempt = (long)lr_json_num(m, "attempt", 0);
	out->it.has_code = lr_json_bool(m, "has_code", 0);
	out->it.passed = lr_json_bool(root, "passed", 0);
	out->it.score = lr_json_num(root, "score", 0);
	out->it.tests_passed = (int)lr_json_num(root, "tests_passed", 0);
	out->it.tests_total = (int)lr_json_num(root, "tests_total", 0);
	tok = lr_json_member(m, "tokens", json_type_object);
	out->tokens = (long)lr_json_num(tok, "total", 0);
	out->tokens_total = (long)lr_json_num(m, "tokens_total", 0);
	out->elapsed_s = lr_json_num(m, "elapsed_s", 0);
	if (out->it.phase == LOOP_PHASE_REFACTOR) {
		json_object *rf = lr_json_member(m, "refactor", json_type_object);
		const char *why = lr_json_str(rf, "reason");

		out->refactor_kept = lr_json_bool(rf, "kept", 0);
		out->it.rejected = !out->refactor_kept;
		snprintf(out->refactor_reason, sizeof(out->refactor_reason), "%s", why ? why : "");
	}
	if (parse_hex(&out->it.code_hash, lr_json_str(m, "code_hash")) < 0 ||
	    parse_hex(&out->it.failure_hash, lr_json_str(m, "failure_hash")) < 0 ||
	    out->iteration < 0 || out->tokens_total < 0 || out->elapsed_s < 0) {
		json_object_put(root);
		return lr_err_set(err, LR_EPROTO, "report.json has a malformed \"loop\" member");
	}
	json_object_put(root);
	return 0;
}

char *loop_report_str(const char *report, size_t len, const char *key)
{
	json_object *root = NULL;
	const char *s;
	char *copy = NULL;

	if (report == NULL || parse_object(&root, report, len, NULL) < 0)
		return NULL;
	s = lr_json_str(root, key);
	if (s != NULL)
		copy = strdup(s);
	json_object_put(root);
	return copy;
}

/* ---- the refactor's review ---------------------------------------------- */

static int review_findings(lr_buf *b, json_object *stat, int *items)
{
	json_object *pf = lr_json_member(lr_json_member(stat, "pyflakes", json_type_object),
	                                 "findings", json_type_array);
	json_object *bd = lr_json_member(lr_json_member(stat, "bandit", json_type_object),
	                                 "findings", json_type_array);
	json_object *rad = lr_json_member(stat, "radon", json_type_object);
	json_object *fns = lr_json_member(rad, "functions", json_type_array);
	int rc = 0;

	for (size_t i = 0; bd && i < json_object_array_length(bd) && *items < REVIEW_ITEMS; i++) {
		json_object *f = json_object_array_get_idx(bd, i);

		rc = lr_buf_printf(b, "- security (%s): line %ld: %.200s\n",
		                   lr_json_str(f, "severity") ? lr_json_str(f, "severity") : "?",
		                   (long)lr_json_num(f, "line", 0),
		                   lr_json_str(f, "message") ? lr_json_str(f, "message")
		                                             : "a finding");
		if (rc < 0)
			return rc;
		(*items)++;
	}
	for (size_t i = 0; pf && i < json_object_array_length(pf) && *items < REVIEW_ITEMS; i++) {
		json_object *f = json_object_array_get_idx(pf, i);

		rc = lr_buf_printf(b, "- lint: line %ld: %.200s\n", (long)lr_json_num(f, "line", 0),
		                   lr_json_str(f, "message") ? lr_json_str(f, "message")
		                                             : "a finding");
		if (rc < 0)
			return rc;
		(*items)++;
	}
	for (size_t i = 0; fns && i < json_object_array_length(fns) && *items < REVIEW_ITEMS; i++) {
		json_object *f = json_object_array_get_idx(fns, i);
		long cc = (long)lr_json_num(f, "complexity", 0);

		if (cc <= COMPLEXITY_MAX)
			continue;
		rc = lr_buf_printf(
		    b,
		    "- complexity: `%.100s` (line %ld) has cyclomatic complexity %ld; "
		    "split it or simplify its branches\n",
		    lr_json_str(f, "name") ? lr_json_str(f, "name") : "a function",
		    (long)lr_json_num(f, "line", 0), cc);
		if (rc < 0)
			return rc;
		(*items)++;
	}
	return 0;
}

int loop_review(char **out, const char *report, size_t len, lr_err *err)
{
	json_object *root = NULL;
	lr_buf b;
	int items = 0;
	int rc;

	*out = NULL;
	lr_buf_init(&b, REVIEW_MAX);
	if (report != NULL && parse_object(&root, report, len, NULL) == 0)
		rc = review_findings(&b, lr_json_member(root, "static", json_type_object), &items);
	else
		rc = 0;
	if (rc == 0 && items == 0)
		rc =
		    lr_buf_puts(&b, "- no findings from the linters; make the code simpler and "
		                    "clearer: precise names, no dead code, no needless branches\n");
	json_object_put(root);
	if (rc == LR_ETOOBIG)
		rc = 0; /* a long review is cut, not refused */
	if (rc == 0)
		*out = lr_buf_steal(&b);
	lr_buf_free(&b);
	if (*out == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory building a review");
	return 0;
}

/* ---- the result ------------------------------------------------------------- */

int loop_result_build(char **out, const char *final_report, const loop_outcome *o, lr_err *err)
{
	json_object *root = NULL, *rf = NULL;
	int rc;

	*out = NULL;
	if (final_report != NULL &&
	    parse_object(&root, final_report, strlen(final_report), NULL) < 0)
		root = NULL; /* a report that does not parse: the outcome alone */
	if (root == NULL) {
		root = json_object_new_object();
		if (root == NULL)
			goto oom;
		rc = lr_json_set_bool(root, "passed", 0);
		rc |= lr_json_set_str(root, "verdict", "failed");
		rc |= lr_json_set_num(root, "score", 0);
		rc |= lr_json_set_obj(root, "tests", json_object_new_array());
		rc |= lr_json_set_str(root, "error", o->stop_detail);
		if (rc)
			goto oom;
	}
	rf = json_object_new_object();
	if (rf == NULL ||
	    lr_json_set_str(rf, "status", o->refactor ? o->refactor : "not_requested") ||
	    lr_json_set_str(rf, "reason", o->refactor_reason))
		goto oom;
	rc = lr_json_set_str(root, "code", o->code);
	rc |= lr_json_set_int(root, "iterations", o->iterations);
	rc |= lr_json_set_str(root, "stop_reason", loop_stop_name(o->stop));
	rc |= lr_json_set_str(root, "stop_detail", o->stop_detail);
	rc |= o->final_iteration >= 0 ? lr_json_set_int(root, "final_iteration", o->final_iteration)
	                              : lr_json_set_obj(root, "final_iteration", NULL);
	rc |= o->accepted >= 0 ? lr_json_set_int(root, "accepted_iteration", o->accepted)
	                       : lr_json_set_obj(root, "accepted_iteration", NULL);
	rc |= lr_json_set_str(root, "commit", o->commit);
	rc |= lr_json_set_str(root, "accepted_tag", o->tag);
	rc |= lr_json_set_int(root, "tokens_total", o->tokens_total);
	rc |= lr_json_set_num(root, "elapsed_s", r3(o->elapsed_s));
	rc |= lr_json_set_obj(root, "refactor", rf);
	rf = NULL;
	rc |= lr_json_set_obj(root, "history",
	                      o->history ? json_object_get(o->history) : json_object_new_array());
	rc |= lr_json_set_obj(root, "deployed", o->deployed ? json_object_get(o->deployed) : NULL);
	if (rc != 0 || (*out = lr_json_dump(root)) == NULL)
		goto oom;
	json_object_put(root);
	return 0;
oom:
	json_object_put(rf);
	json_object_put(root);
	return lr_err_set(err, LR_ENOMEM, "out of memory building the result");
}

char *loop_outcome_summary(const loop_outcome *o, const char *final_summary)
{
	char buf[SUMMARY_MAX];
	const char *fs = final_summary && *final_summary ? final_summary : "no report";

	if (o->stop == LOOP_STOP_PASSED && o->accepted >= 0)
		snprintf(buf, sizeof(buf), "passed at iteration %ld of %ld%s%s: %s", o->accepted,
		         o->iterations,
		         o->refactor && strcmp(o->refactor, "rejected") == 0 ? ", refactor rejected"
		                                                             : "",
		         o->refactor && strcmp(o->refactor, "kept") == 0 ? ", refactored" : "", fs);
	else if (o->final_iteration >= 0)
		snprintf(buf, sizeof(buf),
		         "stopped (%s) after %ld iteration%s; best, iteration %ld: %s",
		         loop_stop_name(o->stop), o->iterations, o->iterations == 1 ? "" : "s",
		         o->final_iteration, fs);
	else
		snprintf(buf, sizeof(buf), "stopped (%s) before any iteration%s%s",
		         loop_stop_name(o->stop), o->stop_detail ? ": " : "",
		         o->stop_detail ? o->stop_detail : "");
	return strdup(buf);
}
