/* kind_session.c - REPL sessions: session_open, exec and session_close.
 *
 * A session is its record on Redis (session_store.h): its limits and the
 * code of its cells. An exec runs in the session's held interpreter on this
 * worker (session_held.h), catching up on cells recorded elsewhere, or in a
 * fresh one that replays the recorded cells first (their output discarded;
 * sandbox/py/llmrepl_session.py); the cell is recorded only when it ran to
 * its end, in order: a cell that read a session another cell changed
 * meanwhile is run again. The claim routes a session's cells to the worker
 * holding it (common/queue_lua.c), at most --sessions-held per worker (a
 * cell needing one more is refused here); the record is the truth, so a
 * worker that dies loses nothing. Each recorded cell is a commit in the
 * session's history (session_git.h). */
#include "json.h"
#include "kinds.h"
#include "log.h"
#include "session_git.h"
#include "session_held.h"
#include "session_store.h"
#include "wk_metrics.h"
#include "worker.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_MAX    4096
#define ANSWER_MAX   (8u << 20)
#define HARD_SLACK   1.0 /* seconds the host adds to a run's own limits */
#define REPLAY_MULT  1.5 /* replays may be slower than the cells' first runs */
#define START_S      1.0 /* a held interpreter's start */
#define HELD_CPU_S   86400.0
#define HELD_REQUEST "{\"mode\":\"repl\"}"

static int fields(lr_job_result *res, const char *const *kv, size_t n, lr_err *err)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		if (lr_job_result_field(res, kv[i], kv[i + 1] ? kv[i + 1] : "") < 0)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

static int verdict(lr_job_result *res, int passed, const char *error, const char *summary,
                   json_object *report, lr_err *err)
{
	res->passed = passed;
	res->error = error ? strdup(error) : NULL;
	res->summary = strdup(summary);
	res->result_json = report ? lr_json_dump(report) : strdup("{}");
	if ((error && !res->error) || !res->summary || !res->result_json)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

static void gone_msg(char *buf, size_t len, const char *id)
{
	snprintf(buf, len,
	         "session %s does not exist: it was closed, ended after its idle timeout, "
	         "or never opened",
	         id);
}

int wk_kind_session_open(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	const char *id = lr_jobctx_id(ctx);
	json_object *rep = json_object_new_object();
	const char *kv[2] = {"session", id};
	char sum[128];
	int rc;

	if (rep == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = ss_open(lr_jobctx_q(ctx), id, (long)(s->idle_timeout_s * 1000), s->timeout_s,
	             s->memory_mb, s->max_cells, err);
	if (rc == 0) {
		rc |= lr_json_set_str(rep, "session", id);
		rc |= lr_json_set_num(rep, "idle_timeout_s", s->idle_timeout_s);
		rc |= lr_json_set_int(rep, "max_cells", s->max_cells);
		rc |= lr_json_set_num(rep, "timeout_s", s->timeout_s);
		rc |= lr_json_set_int(rep, "memory_mb", s->memory_mb);
		snprintf(sum, sizeof(sum), "session %s open", id);
		rc = rc ? lr_err_set(err, LR_ENOMEM, "out of memory")
		        : verdict(res, 1, NULL, sum, rep, err);
	}
	if (rc == 0)
		rc = fields(res, kv, 2, err);
	json_object_put(rep);
	return rc;
}

int wk_kind_session_close(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const char *id = lr_jobctx_spec(ctx)->session;
	const char *kv[2] = {"session", id};
	char msg[256];
	int existed = 0;
	int rc = ss_close(lr_jobctx_q(ctx), id, &existed, err);

	sh_drop(id);

	if (rc < 0)
		return rc;
	gone_msg(msg, sizeof(msg), id);
	snprintf(msg + (existed ? 0 : strlen(msg)), sizeof(msg) - (existed ? 0 : strlen(msg)),
	         existed ? "session %s closed" : "", id);
	rc = verdict(res, existed, existed ? NULL : msg, msg, NULL, err);
	return rc == 0 ? fields(res, kv, 2, err) : rc;
}

/* The sandbox request: the cells to replay and the new one. */
static char *cell_request(const ss_session *ss, size_t from, size_t n, const char *code, int mode)
{
	json_object *o = json_object_new_object();
	json_object *cells = json_object_new_array();
	char *text = NULL;
	int rc = o && cells ? 0 : LR_ENOMEM;

	for (size_t i = from; rc == 0 && i < n; i++)
		rc = json_object_array_add(
		    cells, json_object_new_string_len(ss->cells[i], (int)ss->lens[i]));
	if (mode)
		rc |= lr_json_set_str(o, "mode", "session");
	rc |= lr_json_set_int(o, "base", (long)from);
	rc |= lr_json_set_str(o, "code", code);
	rc |= lr_json_set_num(o, "timeout_s", ss->timeout_s);
	rc |= lr_json_set_int(o, "value_max", VALUE_MAX);
	if (rc == 0 && o) {
		json_object_object_add(o, "cells", cells);
		cells = NULL;
		text = lr_json_dump(o);
	}
	json_object_put(cells);
	json_object_put(o);
	return text;
}

/* A cell in a fresh sandbox run of its own, the n cells before it replayed. */
static int run_once(sbx_result *sr, lr_jobctx *ctx, const ss_session *ss, size_t n,
                    const char *code, lr_err *err)
{
	sbx_limits lim;
	sbx_pool *pool = lr_jobctx_pool(ctx);
	char *req = cell_request(ss, 0, n, code, 1);
	int rc;

	memset(sr, 0, sizeof(*sr));
	if (req == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	sbx_limits_default(&lim);
	lim.timeout_s = ss->timeout_s + ss->replay_s * REPLAY_MULT + HARD_SLACK + (pool ? 0 : 0.5);
	lim.memory_mb = ss->memory_mb;
	if (pool)
		rc = sbx_pool_run(pool, sr, &lim, req, strlen(req));
	else
		rc = sbx_run(sr, lr_jobctx_sbx_config(ctx), &lim, req, strlen(req));
	free(req);
	if (rc == 0)
		wk_metrics_sandbox(sr);
	if (rc < 0 || sr->end == SBX_END_ERROR)
		return lr_err_set(err, LR_EUNAVAIL, "sandbox: %s",
		                  sr->detail[0] ? sr->detail : "the run could not be started");
	return 0;
}

/* At the limit: end the interpreters this worker keeps of sessions another
 * worker has since taken over (their record names it) or that are gone:
 * copies nobody will send a cell to, not sessions this worker holds. */
static void drop_taken_over(lr_jobctx *ctx)
{
	const char *me = lr_jobctx_config(ctx)->name;
	lr_q *q = lr_jobctx_q(ctx);

	sh_sweep();
	for (size_t i = sh_count(); i-- > 0;) {
		char key[LR_KEY_MAX], name[LR_KEY_MAX];
		const char *id = sh_id_at(i);
		redisReply *rep = NULL;
		int other = 0;

		snprintf(name, sizeof(name), "session:%s", id);
		if (lr_redis_cmd(q->r, &rep, NULL, "HGET %s worker", lr_key(q->k, key, name)) < 0)
			return;
		other = !lr_reply_is_str(rep) || strcmp(rep->str, me) != 0;
		freeReplyObject(rep);
		if (other)
			sh_drop(id);
	}
}

/* Would this cell need one more held interpreter than the worker may keep?
 * (A cell reaches a worker at its limit only when no live worker has room:
 * the claim routes it to one that has.) */
static int worker_full(lr_jobctx *ctx, const char *id, size_t n)
{
	const wk_config *cfg = lr_jobctx_config(ctx);

	if (cfg->sessions_held <= 0 || sh_find(id, n) != NULL || !sh_full(cfg->sessions_held))
		return 0;
	drop_taken_over(ctx);
	return sh_full(cfg->sessions_held);
}

/* The session's held interpreter (it has run at most n cells), else a
 * fresh one (NULL when none can be held: the cell then runs once). */
static sh_entry *held_for(lr_jobctx *ctx, const ss_session *ss, const char *id, size_t n)
{
	const wk_config *cfg = lr_jobctx_config(ctx);
	sh_entry *e = cfg->sessions_held > 0 ? sh_find(id, n) : NULL;
	sbx_config sc = *lr_jobctx_sbx_config(ctx);
	sbx_limits lim;
	sbx_held *h = NULL;
	char msg[256];

	if (e != NULL || cfg->sessions_held <= 0)
		return e;
	sbx_limits_default(&lim);
	lim.memory_mb = ss->memory_mb;
	lim.cpu_s = HELD_CPU_S;
	sc.peer = 0;
	if (sbx_held_start(&h, &sc, &lim, HELD_REQUEST, strlen(HELD_REQUEST), msg, sizeof(msg)) <
	    0) {
		log_warn("session %s: no interpreter can be held (%s); the cell runs once", id,
		         msg);
		return NULL;
	}
	return sh_keep(id, h, 0, ss->idle_timeout_ms, cfg->sessions_held);
}

/* Run the cell after the session's first n cells: in its held interpreter
 * (replaying what that has not run), else once. *replayed = cells re-run;
 * *e = the held interpreter (NULL when none). */
static int run_cell(sbx_result *sr, lr_jobctx *ctx, const ss_session *ss, const char *id, size_t n,
                    const char *code, int *replayed, sh_entry **e, lr_err *err)
{
	char *frame;
	double timeout;
	int rc;

	*e = held_for(ctx, ss, id, n);
	if (*e == NULL) {
		*replayed = (int)n;
		return run_once(sr, ctx, ss, n, code, err);
	}
	*replayed = (int)(n - (*e)->ncells);
	frame = cell_request(ss, (*e)->ncells, n, code, 0);
	if (frame == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	timeout = ss->timeout_s + HARD_SLACK +
	          (*replayed > 0 || (*e)->ncells == 0 ? ss->replay_s * REPLAY_MULT + START_S : 0);
	rc = sbx_held_call((*e)->h, sr, frame, strlen(frame), timeout);
	free(frame);
	if (rc == 0)
		wk_metrics_sandbox(sr);
	if (rc < 0 || sr->end == SBX_END_ERROR) {
		sh_drop(id);
		*e = NULL;
		return lr_err_set(err, LR_EUNAVAIL, "sandbox: %s",
		                  sr->detail[0] ? sr->detail : "the interpreter is gone");
	}
	return 0;
}

/* Why the cell's run ended the interpreter (the cell is then not recorded),
 * or NULL when it ran to its end (with or without an exception). */
static const char *stopped(const sbx_result *sr, json_object *ans, const ss_session *ss, char *buf,
                           size_t len)
{
	const char *end = lr_json_str(ans, "end");

	if (sr->end == SBX_END_TIMEOUT || (end && strcmp(end, "timeout") == 0))
		snprintf(buf, len, "the cell ran over its time limit of %g s", ss->timeout_s);
	else if (sr->end == SBX_END_MEMORY || (end && strcmp(end, "memory") == 0))
		snprintf(buf, len, "the cell ran out of its memory limit of %ld MB", ss->memory_mb);
	else if (sr->end == SBX_END_OUTPUT)
		snprintf(buf, len, "the cell wrote more output than the limit");
	else if (sr->end == SBX_END_SIGNALED)
		snprintf(buf, len, "the cell's interpreter was killed by signal %d", sr->signal);
	else if (ans == NULL)
		snprintf(buf, len, "the cell ended its interpreter (exit status %d)",
		         sr->exit_code);
	else
		return NULL;
	return buf;
}

typedef struct cell_out {
	const char *error; /* one line, or NULL */
	int record;
	char line[600];
} cell_out;

static void judge_cell(cell_out *c, const sbx_result *sr, json_object *ans, const ss_session *ss)
{
	char why[256];
	json_object *e = lr_json_obj(ans, "error");

	memset(c, 0, sizeof(*c));
	if (stopped(sr, ans, ss, why, sizeof(why)) != NULL) {
		snprintf(c->line, sizeof(c->line),
		         "%s; it is not part of the session, whose state is as before it", why);
		c->error = c->line;
		return;
	}
	c->record = 1;
	if (e != NULL) {
		snprintf(c->line, sizeof(c->line), "%s: %.500s",
		         lr_json_str(e, "type") ? lr_json_str(e, "type") : "Error",
		         lr_json_str(e, "message") ? lr_json_str(e, "message") : "");
		c->error = c->line;
	}
}

static int cell_report(lr_job_result *res, const sbx_result *sr, json_object *ans,
                       const cell_out *c, size_t n, int replayed, lr_err *err)
{
	json_object *rep = json_object_new_object();
	const char *value = lr_json_str(ans, "value");
	char cell[32], rp[32], wall[32], summary[700];
	const char *kv[12];
	int rc = rep ? 0 : LR_ENOMEM;

	snprintf(cell, sizeof(cell), "%zu", n + 1);
	snprintf(rp, sizeof(rp), "%d", replayed);
	snprintf(wall, sizeof(wall), "%.6f", sr->wall_s);
	rc |= lr_json_set_strn(rep, "stdout", sr->out ? sr->out : "", sr->out_len);
	rc |= lr_json_set_strn(rep, "stderr", sr->err ? sr->err : "", sr->err_len);
	rc |= lr_json_set_str(rep, "value", value ? value : "");
	rc |= lr_json_set_str(rep, "error", c->error);
	rc |= lr_json_set_str(rep, "traceback", lr_json_str(ans, "traceback"));
	rc |= lr_json_set_int(rep, "cell", (long)n + 1);
	rc |= lr_json_set_int(rep, "replayed", replayed);
	rc |= lr_json_set_int(rep, "recorded", c->record);
	rc |= lr_json_set_num(rep, "cell_s", lr_json_num(ans, "cell_s", 0));
	rc |= lr_json_set_num(rep, "wall_s", sr->wall_s);
	rc |= lr_json_set_str(rep, "end", sbx_end_name(sr->end));
	if (rc)
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	snprintf(summary, sizeof(summary), "cell %zu: %s", n + 1,
	         c->error ? c->error
	         : value  ? value
	                  : "ok");
	if (rc == 0)
		rc = verdict(res, c->error == NULL, c->error, summary, rep, err);
	json_object_put(rep);
	kv[0] = "stdout", kv[1] = sr->out, kv[2] = "stderr", kv[3] = sr->err;
	kv[4] = "value", kv[5] = value, kv[6] = "replayed", kv[7] = rp;
	kv[8] = "cell", kv[9] = cell, kv[10] = "wall_s", kv[11] = wall;
	return rc == 0 ? fields(res, kv, 12, err) : rc;
}

/* The recorded cell's commit in the session's history, made after the
 * answer: the worker finishes the exec job first and then calls
 * commit_after, which commits the cell and sets the job's `commit` field
 * (fenced on this attempt having finished the job). A worker that dies or
 * fails in between only costs the commit: the next cell makes it
 * (session_git.h). */
typedef struct pending_commit {
	ss_session ss; /* as the cell was run on */
	size_t n;      /* the cell's index */
} pending_commit;

static void pending_free(void *arg)
{
	pending_commit *p = arg;

	ss_session_free(&p->ss);
	free(p);
}

static void commit_after(lr_jobctx *ctx, const lr_job_result *res, void *arg)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	pending_commit *p = arg;
	sg_cell cell = {p->n, s->code, res->result_json ? res->result_json : "{}", res->summary};
	char oid[GITSTORE_OID_HEX + 1];
	lr_err e;

	lr_err_clear(&e);
	if (sg_commit_cell(ctx, &p->ss, s->session, &cell, oid, &e) < 0)
		log_warn("session %s: cell %zu is recorded but not committed: %s", s->session,
		         p->n + 1, e.msg);
}

/* Hand ss (emptied) and the cell to the commit made after the answer. */
static int defer_commit(lr_job_result *res, ss_session *ss, size_t n, lr_err *err)
{
	pending_commit *p = malloc(sizeof(*p));

	if (p == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	p->ss = *ss;
	p->n = n;
	memset(ss, 0, sizeof(*ss));
	res->after = commit_after;
	res->after_free = pending_free;
	res->after_arg = p;
	return 0;
}

static int refuse(lr_job_result *res, const char *msg, lr_err *err)
{
	return verdict(res, 0, msg, msg, NULL, err);
}

int wk_kind_exec(lr_jobctx *ctx, lr_job_result *res, lr_err *err)
{
	const lr_job_spec *s = lr_jobctx_spec(ctx);
	const wk_config *cfg = lr_jobctx_config(ctx);
	ss_session ss;
	sbx_result sr;
	json_object *ans = NULL;
	cell_out c;
	char msg[300];
	ss_outcome outcome = SS_RECORDED;
	sh_entry *held = NULL;
	size_t n;
	int replayed = 0;
	int again = 0;
	int rc = ss_load(lr_jobctx_q(ctx), s->session, &ss, err);

	if (rc < 0)
		return rc;
	if (!ss.exists) {
		sh_drop(s->session);
		gone_msg(msg, sizeof(msg), s->session);
		return refuse(res, msg, err);
	}
	/* A repeated attempt whose cell was recorded already runs on the cells
	 * before it and records nothing new. */
	again = ss.ncells > 0 && strcmp(ss.last_job, lr_jobctx_id(ctx)) == 0;
	n = again ? ss.ncells - 1 : ss.ncells;
	if ((!again && (long)n >= ss.max_cells) || worker_full(ctx, s->session, n)) {
		if (!again && (long)n >= ss.max_cells)
			snprintf(msg, sizeof(msg), "session %s has reached its limit of %ld cells",
			         s->session, ss.max_cells);
		else
			snprintf(
			    msg, sizeof(msg),
			    "worker %s holds its limit of %ld sessions (--sessions-held) and no "
			    "other worker has room: close a session, let one end by its idle "
			    "timeout, or add workers (session %s is unchanged)",
			    cfg->name, cfg->sessions_held, s->session);
		ss_session_free(&ss);
		return refuse(res, msg, err);
	}
	rc = run_cell(&sr, ctx, &ss, s->session, n, s->code, &replayed, &held, err);
	if (rc == 0 && sr.answer != NULL &&
	    lr_json_parse(&ans, sr.answer, sr.answer_len, ANSWER_MAX, 16, err) < 0) {
		ans = NULL;
		lr_err_clear(err);
	}
	if (rc == 0) {
		judge_cell(&c, &sr, ans, &ss);
		ss_cell cell = {.n = n,
		                .record = c.record && !again,
		                .code = s->code,
		                .job = lr_jobctx_id(ctx),
		                .worker = cfg->name,
		                .cell_s = lr_json_num(ans, "cell_s", 0)};

		rc = ss_record(lr_jobctx_q(ctx), s->session, &cell, &outcome, err);
	}
	/* The held interpreter goes on only when it has run exactly the
	 * recorded cells. */
	if (held != NULL) {
		if (rc == 0 && c.record && outcome == SS_RECORDED && sbx_held_alive(held->h))
			held->ncells = n + 1;
		else
			sh_drop(s->session);
	}
	if (rc == 0 && outcome == SS_CONFLICT)
		rc = lr_err_set(err, LR_EUNAVAIL,
		                "another cell of session %s was recorded while this one ran",
		                s->session);
	if (rc == 0 && outcome == SS_GONE) {
		gone_msg(msg, sizeof(msg), s->session);
		rc = refuse(res, msg, err);
	} else if (rc == 0)
		rc = cell_report(res, &sr, ans, &c, n, replayed, err);
	if (rc == 0 && outcome == SS_RECORDED && (c.record || again))
		rc = defer_commit(res, &ss, n, err);
	json_object_put(ans);
	sbx_result_free(&sr);
	ss_session_free(&ss);
	return rc;
}
