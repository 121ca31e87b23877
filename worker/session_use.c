/* session_use.c - code tested on a REPL session's state (see session_use.h). */
#include "session_use.h"

#include "buf.h"
#include "log.h"
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MULT  1.5 /* a replay may be slower than the cells' first runs */
#define REPLAY_SLACK 0.5

/* The cells the job's first attempt used; -1 when none is recorded yet. */
static long pinned(lr_jobctx *ctx)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	long n = -1;

	lr_key_job(lr_jobctx_q(ctx)->k, key, lr_jobctx_id(ctx));
	if (lr_redis_cmd(lr_jobctx_q(ctx)->r, &rep, NULL, "HGET %s session_cells", key) == 0) {
		if (lr_reply_is_str(rep))
			n = strtol(rep->str, NULL, 10);
		freeReplyObject(rep);
	}
	return n;
}

int su_load(lr_jobctx *ctx, ss_session *ss, char *why, size_t len, lr_err *err)
{
	const char *id = lr_jobctx_spec(ctx)->session;
	char num[32];
	long n;
	int rc;

	memset(ss, 0, sizeof(*ss));
	why[0] = '\0';
	if (id == NULL)
		return 0;
	rc = ss_load(lr_jobctx_q(ctx), id, ss, err);
	if (rc < 0)
		return rc;
	if (!ss->exists) {
		snprintf(why, len,
		         "session %s does not exist: it was closed, ended after its idle timeout, "
		         "or never opened",
		         id);
		return 0;
	}
	n = pinned(ctx);
	if (n >= 0 && (size_t)n < ss->ncells) {
		for (size_t i = (size_t)n; i < ss->ncells; i++)
			free(ss->cells[i]);
		ss->ncells = (size_t)n;
	}
	snprintf(num, sizeof(num), "%zu", ss->ncells);
	return n >= 0 ? 0 : lr_jobctx_set(ctx, "session_cells", num, err);
}

void su_apply(eval_request *r, const ss_session *ss)
{
	if (ss == NULL || !ss->exists || ss->ncells == 0)
		return;
	r->session_cells = (const char *const *)ss->cells;
	r->session_ncells = ss->ncells;
	r->limits.timeout_s += ss->replay_s * REPLAY_MULT + REPLAY_SLACK;
}

char *su_prompt_context(const ss_session *ss, size_t max)
{
	lr_buf b;
	size_t from, total = 0;

	if (ss == NULL || !ss->exists || ss->ncells == 0)
		return NULL;
	for (from = ss->ncells; from > 0; from--) { /* the newest cells that fit */
		total += ss->lens[from - 1] + 32;
		if (total > max)
			break;
	}
	lr_buf_init(&b, max + 64);
	if (from > 0)
		lr_buf_printf(&b, "# (%zu earlier cells not shown)\n", from);
	for (size_t i = from; i < ss->ncells; i++) {
		lr_buf_printf(&b, "%s# cell %zu\n", i > from ? "\n" : "", i + 1);
		lr_buf_puts(&b, ss->cells[i]);
		if (ss->lens[i] == 0 || ss->cells[i][ss->lens[i] - 1] != '\n')
			lr_buf_puts(&b, "\n");
	}
	if (lr_buf_error(&b) < 0) {
		lr_buf_free(&b);
		return NULL;
	}
	return lr_buf_steal(&b);
}

/* The session of the job being run (one job at a time, main thread). */
static struct {
	char job[LR_JOB_ID_MAX + 1];
	ss_session ss;
	char *prompt;
} cur;

const ss_session *su_current(lr_jobctx *ctx)
{
	return cur.ss.exists && strcmp(cur.job, lr_jobctx_id(ctx)) == 0 ? &cur.ss : NULL;
}

const char *su_current_prompt(lr_jobctx *ctx)
{
	return su_current(ctx) ? cur.prompt : NULL;
}

static void end(void)
{
	ss_session_free(&cur.ss);
	free(cur.prompt);
	memset(&cur, 0, sizeof(cur));
}

int su_run(lr_jobctx *ctx, lr_job_result *res, lr_err *err, su_handler run)
{
	const char *id = lr_jobctx_spec(ctx)->session;
	char why[300], num[32];
	int rc;

	if (id == NULL)
		return run(ctx, res, err);
	end();
	rc = su_load(ctx, &cur.ss, why, sizeof(why), err);
	if (rc == 0 && why[0]) { /* the job's own outcome: nothing to test on */
		res->passed = 0;
		res->error = strdup(why);
		res->summary = strdup(why);
		res->result_json = strdup("{}");
		rc = res->error && res->summary && res->result_json
		         ? lr_job_result_field(res, "session", id)
		         : LR_ENOMEM;
		end();
		return rc < 0 ? lr_err_set(err, LR_ENOMEM, "out of memory") : 0;
	}
	if (rc == 0) {
		snprintf(cur.job, sizeof(cur.job), "%s", lr_jobctx_id(ctx));
		cur.prompt = su_prompt_context(&cur.ss, PROMPT_MAX_SESSION);
		rc = run(ctx, res, err);
	}
	snprintf(num, sizeof(num), "%zu", cur.ss.ncells);
	if (rc == 0 && (lr_job_result_field(res, "session", id) < 0 ||
	                lr_job_result_field(res, "session_cells", num) < 0))
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	end();
	return rc;
}
