/* session_git.c - a REPL session's git history (see session_git.h). */
#include "session_git.h"

#include "buf.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* KEYS: the open job's hash, its events, the git objects and refs, the
 * session, the exec job's hash. ARGV: the session's idle timeout (ms), the
 * cells now committed, the exec attempt, the cell's commit. Each of the first
 * four keys lives at least the job's retention (its `ttl`, seconds) from now,
 * and at least the idle timeout; the session notes how many cells its
 * history has; the exec job, when this attempt finished it, gets `commit`. */
static const lr_script keep_lua = {
    "session_git_keep",
    "local ms = (tonumber(redis.call('HGET', KEYS[1], 'ttl')) or 0) * 1000\n"
    "if ms < tonumber(ARGV[1]) then ms = tonumber(ARGV[1]) end\n"
    "for i = 1, 4 do\n"
    "  local k = KEYS[i]\n"
    "  local t = redis.call('PTTL', k)\n"
    "  if t >= 0 and t < ms then redis.call('PEXPIRE', k, ms) end\n"
    "  if t == -1 and i > 2 then redis.call('PEXPIRE', k, ms) end\n"
    "end\n"
    "if redis.call('TYPE', KEYS[5])['ok'] == 'hash' and\n"
    "   (tonumber(redis.call('HGET', KEYS[5], 'git_cells')) or 0) < tonumber(ARGV[2]) then\n"
    "  redis.call('HSET', KEYS[5], 'git_cells', ARGV[2])\n"
    "end\n"
    "local h = redis.call('HMGET', KEYS[6], 'state', 'attempt')\n"
    "if h[1] == 'done' and h[2] == ARGV[3] then\n"
    "  redis.call('HSET', KEYS[6], 'commit', ARGV[4])\n"
    "end\n"
    "return 0\n"};

/* session.py: the first `upto` recorded cells and then `code`, or NULL
 * (with *len 0) when that is over `max` bytes. */
static char *session_text(const ss_session *ss, size_t upto, const char *code, size_t max,
                          size_t *len)
{
	lr_buf b;
	char head[48];

	lr_buf_init(&b, max);
	for (size_t i = 0; i <= upto; i++) {
		const char *c = i < upto ? ss->cells[i] : code;

		snprintf(head, sizeof(head), "%s# cell %zu\n", i ? "\n" : "", i + 1);
		if (lr_buf_puts(&b, head) < 0 || lr_buf_puts(&b, c) < 0 ||
		    (b.len && b.data[b.len - 1] != '\n' && lr_buf_puts(&b, "\n") < 0)) {
			lr_buf_free(&b);
			*len = 0;
			return NULL;
		}
	}
	*len = b.len;
	return lr_buf_steal(&b);
}

static int commit_one(gitstore *gs, const ss_session *ss, const sg_cell *cell, size_t max_file,
                      char oid[GITSTORE_OID_HEX + 1], lr_err *err)
{
	gitstore_file f[3];
	gitstore_commit_req req;
	size_t slen = 0;
	char *stext = session_text(ss, cell->n, cell->code, max_file, &slen);
	int existed = 0;
	int rc;

	f[0] = (gitstore_file){"cell.py", cell->code, strlen(cell->code)};
	f[1] = (gitstore_file){"report.json", cell->report, strlen(cell->report)};
	f[2] = (gitstore_file){"session.py", stext, slen};
	memset(&req, 0, sizeof(req));
	req.iteration = (long)cell->n;
	req.summary = cell->summary;
	req.files = f;
	req.nfiles = stext ? 3 : 2;
	rc = gitstore_commit(oid, &existed, gs, &req, err);
	free(stext);
	return rc;
}

/* Earlier recorded cells the history lacks (a worker died between recording
 * and committing one). */
static int backfill(gitstore *gs, const ss_session *ss, size_t n, size_t max_file, lr_err *err)
{
	gitstore_entry head;
	char oid[GITSTORE_OID_HEX + 1], rep[96], sum[96];
	long from = 0;
	int rc;

	if (ss->git_cells >= n) /* as the session says: nothing is missing */
		return 0;
	rc = gitstore_head(&head, gs, err);

	if (rc == 0) {
		from = head.iteration + 1;
		gitstore_entry_clear(&head);
	} else if (rc == LR_ENOTFOUND) {
		lr_err_clear(err);
		rc = 0;
	}
	for (size_t i = (size_t)from; rc == 0 && i < n; i++) {
		sg_cell cell = {i, ss->cells[i], rep, sum};

		snprintf(rep, sizeof(rep), "{\"cell\": %zu, \"backfilled\": true}", i + 1);
		snprintf(sum, sizeof(sum), "cell %zu: recorded (its output was not kept)", i + 1);
		rc = commit_one(gs, ss, &cell, max_file, oid, err);
	}
	return rc;
}

static int keep(lr_jobctx *ctx, const char *sid, long idle_ms, size_t ncommitted, const char *oid,
                lr_err *err)
{
	const lr_keys *k = lr_jobctx_q(ctx)->k;
	char kj[LR_KEY_MAX], ke[LR_KEY_MAX], ko[LR_KEY_MAX], kr[LR_KEY_MAX], ks[LR_KEY_MAX];
	char kx[LR_KEY_MAX], a[32], b[32], c[32], name[LR_KEY_MAX];
	const char *argv[10] = {kj, ke, ko, kr, ks, kx, a, b, c, oid};
	redisReply *rep = NULL;
	int rc;

	lr_key_job(k, kj, sid);
	lr_key_job_sub(k, ke, sid, "events");
	lr_key_job_sub(k, ko, sid, GITSTORE_AUX_OBJECTS);
	lr_key_job_sub(k, kr, sid, GITSTORE_AUX_REFS);
	snprintf(name, sizeof(name), "session:%s", sid);
	lr_key(k, ks, name);
	lr_key_job(k, kx, lr_jobctx_id(ctx));
	snprintf(a, sizeof(a), "%ld", idle_ms);
	snprintf(b, sizeof(b), "%zu", ncommitted);
	snprintf(c, sizeof(c), "%ld", lr_jobctx_attempt(ctx));
	rc = lr_redis_eval(lr_jobctx_q(ctx)->r, &rep, &keep_lua, 6, 4, argv, NULL, err);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int sg_commit_cell(lr_jobctx *ctx, const ss_session *ss, const char *sid, const sg_cell *cell,
                   char oid[GITSTORE_OID_HEX + 1], lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(ctx);
	gitstore_opts o;
	gitstore *gs = NULL;
	int rc;

	oid[0] = '\0';
	rc = gitstore_keep_library(err); /* a commit per cell: set up once */
	if (rc < 0)
		return rc;
	gitstore_opts_init(&o);
	o.prefix = cfg->keys.prefix;
	o.fence_job = lr_jobctx_id(ctx);
	o.fence_done = 1;   /* the commit follows the exec job's answer */
	o.blind_writes = 1; /* session.py and report.json are new each cell */
	rc = gitstore_open(&gs, lr_jobctx_q(ctx)->r, sid, lr_jobctx_attempt(ctx), &o, err);
	if (rc == 0)
		rc = backfill(gs, ss, cell->n, o.max_file, err);
	if (rc == 0)
		rc = commit_one(gs, ss, cell, o.max_file, oid, err);
	gitstore_free(gs);
	if (rc == 0)
		rc = keep(ctx, sid, ss->idle_timeout_ms, cell->n + 1, oid, err);
	return rc;
}
