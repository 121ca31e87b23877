/* loop_gentests.c - tests the model writes from the task, for a job that has
 * none (strategy auto): asked for once per attempt, then every candidate of a
 * sample round is run against them, and the candidates are ranked by their
 * dual agreement (loop_agreement, after CodeT). The job's own criteria (the
 * code runs cleanly) still decide `passed`: a generated test only ever
 * orders candidates those criteria judged alike, since a test the model
 * wrote may itself be wrong. */
#include "kind_model.h"
#include "loop.h"

#include "clock.h"
#include "json.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_TESTS_MAX 8 /* assert lines kept */
#define GEN_LINE_MAX  300

int loop_gentests_wanted(const loop_run *L)
{
	const lr_job_spec *s = L->spec;

	return L->budget.auto_strategy && !(s->tests && *s->tests) && s->io == NULL &&
	       L->entry_point != NULL && *L->entry_point && s->n > 1;
}

/* The reply's assert lines that call the entry point, dedented, one a line. */
static char *assert_lines(const char *reply, const char *entry)
{
	size_t cap = GEN_TESTS_MAX * (GEN_LINE_MAX + 1) + 1, len = 0;
	char *out = malloc(cap);
	const char *p = reply;
	int kept = 0;

	if (out == NULL)
		return NULL;
	out[0] = '\0';
	while (*p && kept < GEN_TESTS_MAX) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *q = p;

		while (q < p + n && (*q == ' ' || *q == '\t'))
			q++;
		n -= (size_t)(q - p);
		while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\r' || q[n - 1] == '\t'))
			n--;
		if (n > 7 && n <= GEN_LINE_MAX && strncmp(q, "assert ", 7) == 0) {
			char line[GEN_LINE_MAX + 1];

			memcpy(line, q, n);
			line[n] = '\0';
			if (strstr(line, entry) != NULL) {
				memcpy(out + len, line, n);
				len += n;
				out[len++] = '\n';
				out[len] = '\0';
				kept++;
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	if (kept == 0) {
		free(out);
		return NULL;
	}
	return out;
}

int loop_gentests_ask(loop_run *L, long *tokens, double *t_model_ms, lr_err *err)
{
	prompt_input in;
	prompt p;
	loop_answer a;
	int rc;

	L->gen_asked = 1;
	memset(&in, 0, sizeof(in));
	in.task = L->spec->prompt;
	in.entry_point = L->entry_point;
	rc = prompt_tests(&p, &in, err);
	if (rc < 0)
		return rc;
	rc = loop_ask(&a, L, &p, L->temperature, -1, 1, err);
	prompt_free(&p);
	if (rc < 0)
		return rc;
	*tokens += a.tokens_prompt + a.tokens_completion;
	*t_model_ms += a.t_model_ms;
	L->gen_tests = assert_lines(a.reply ? a.reply : "", L->entry_point);
	if (L->gen_tests == NULL)
		log_info("job %s: the model wrote no usable tests; candidates ranked without them",
		         L->id);
	loop_answer_free(&a);
	return 0;
}

/* Bits of the tests that passed, from the report's tests[] in order. */
static uint64_t passed_mask(const char *report)
{
	json_object *root = NULL, *tests;
	uint64_t mask = 0;

	if (report == NULL || lr_json_parse(&root, report, strlen(report), 0, 64, NULL) < 0)
		return 0;
	tests = lr_json_member(root, "tests", json_type_array);
	for (size_t i = 0; tests != NULL && i < json_object_array_length(tests) && i < 64; i++) {
		const char *st = lr_json_str(json_object_array_get_idx(tests, i), "status");

		if (st != NULL && strcmp(st, "passed") == 0)
			mask |= 1ULL << i;
	}
	json_object_put(root);
	return mask;
}

int loop_gentests_run(loop_run *L, const char *code, uint64_t *mask, double *t_eval_ms, lr_err *err)
{
	eval_request req;
	eval_outcome out;
	long long t = lr_now_ms();
	int rc;

	*mask = 0;
	eval_request_default(&req);
	req.code = code;
	req.tests = L->gen_tests;
	req.entry_point = L->entry_point;
	req.static_checks = 0;
	req.limits.timeout_s = L->spec->timeout_s;
	req.limits.memory_mb = L->spec->memory_mb;
	req.stop = wk_eval_stop;
	req.stop_arg = L->ctx;
	memset(&out, 0, sizeof(out));
	rc = eval_run(&out, lr_jobctx_pool(L->ctx), lr_jobctx_sbx_config(L->ctx), &req, err);
	*t_eval_ms += (double)(lr_now_ms() - t);
	if (rc == 0)
		*mask = passed_mask(out.result_json);
	eval_outcome_free(&out);
	return rc;
}
