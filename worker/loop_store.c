/* loop_store.c - the loop's git history (gitstore/gitstore.h) on a Redis
 * connection of its own: open it fenced by this attempt, rebuild the
 * iterations of an earlier attempt from it, commit each new iteration, tag
 * the accepted one and deploy it.
 *
 * The history is the record a resuming worker trusts: every commit carries
 * report.json with the loop's own bookkeeping (loop_report.h), so a worker
 * that takes over a job continues with the next iteration and the same
 * budget, and the store refuses to commit an iteration twice. */
#include "loop.h"

#include "clock.h"
#include "json.h"
#include "log.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_TRIES 6 /* attempts of one store operation through a Redis outage */

/* After LR_EIO: wait (the connection reopens on the next command) and say
 * whether to try again. */
static int recover(loop_run *L, int rc, int *tries)
{
	if (rc != LR_EIO || *tries >= STORE_TRIES)
		return 0;
	lr_sleep_ms(100L << *tries);
	(*tries)++;
	return lr_jobctx_check(L->ctx, NULL) == 0; /* not when the lease is gone or cancelled */
}

int loop_store_open(loop_run *L, lr_err *err)
{
	const wk_config *cfg = lr_jobctx_config(L->ctx);
	gitstore_opts o;
	int rc;

	rc = lr_redis_open(&L->r, &cfg->redis, err);
	if (rc < 0)
		return rc;
	gitstore_opts_init(&o);
	o.prefix = cfg->keys.prefix;
	rc = gitstore_open(&L->gs, L->r, L->id, L->attempt, &o, err);
	if (rc == 0)
		rc = lr_jobctx_aux_key(L->ctx, GITSTORE_AUX_OBJECTS, err);
	if (rc == 0)
		rc = lr_jobctx_aux_key(L->ctx, GITSTORE_AUX_REFS, err);
	return rc;
}

void loop_store_close(loop_run *L)
{
	gitstore_free(L->gs);
	L->gs = NULL;
	lr_redis_close(L->r);
	L->r = NULL;
}

static const gitstore_blob *file_of(const gitstore_snapshot *s, const char *name)
{
	return gitstore_snapshot_file(s, name);
}

/* Is the iteration hash of iteration n there? (A worker that died between
 * a commit and the hash leaves it missing.) */
static int iteration_recorded(loop_run *L, long n)
{
	const wk_config *cfg = lr_jobctx_config(L->ctx);
	char sub[40], key[LR_KEY_MAX];
	redisReply *rep;
	int yes = 1;

	snprintf(sub, sizeof(sub), "it:%ld", n);
	lr_key_job_sub(&cfg->keys, key, L->id, sub);
	if (lr_redis_cmd(L->r, &rep, NULL, "EXISTS %s", key) == 0) {
		if (rep->type == REDIS_REPLY_INTEGER)
			yes = rep->integer != 0;
		freeReplyObject(rep);
	}
	return yes;
}

/* Write iteration n's hash again from its commit. */
static int restore_iteration(loop_run *L, long n, const char *code, const char *report, lr_err *err)
{
	static const char *const f[] = {"n",      "code",    "report",  "commit",
	                                "passed", "summary", "restored"};
	const loop_rec *r = &L->recs[n];
	char num[24];
	const char *v[7];

	snprintf(num, sizeof(num), "%ld", n);
	v[0] = num;
	v[1] = code;
	v[2] = report;
	v[3] = r->commit;
	v[4] = L->its[n].passed ? "1" : "0";
	v[5] = r->summary ? r->summary : "";
	v[6] = "1";
	return lr_jobctx_iteration(L->ctx, n, 7, f, v, NULL, r->summary, err);
}

int loop_store_resume(loop_run *L, lr_err *err)
{
	gitstore_entry *log = NULL;
	gitstore_snapshot snap;
	size_t ne = 0;
	int tries = 0;
	int rc;

	memset(&snap, 0, sizeof(snap));
	while ((rc = gitstore_log(&log, &ne, L->gs, 0, err)) < 0 && recover(L, rc, &tries))
		;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ne; i++) {
		const gitstore_entry *e = &log[ne - 1 - i]; /* oldest first */
		const gitstore_blob *rep, *code;
		loop_saved s;
		char *summary;

		if (e->iteration != (long)i) {
			rc = lr_err_set(err, LR_EPROTO,
			                "the job's history is damaged: commit %s is iteration %ld, "
			                "expected %zu",
			                e->oid, e->iteration, i);
			goto cleanup;
		}
		tries = 0;
		while ((rc = gitstore_read(&snap, L->gs, e->oid, err)) < 0 &&
		       recover(L, rc, &tries))
			;
		if (rc < 0)
			goto cleanup;
		rep = file_of(&snap, "report.json");
		code = file_of(&snap, "solution.py");
		if (rep == NULL || code == NULL) {
			rc = lr_err_set(err, LR_EPROTO,
			                "the job's history is damaged: iteration %zu has no %s", i,
			                rep ? "solution.py" : "report.json");
			goto cleanup;
		}
		rc = loop_report_read(&s, rep->data, rep->len, err);
		if (rc == 0 && s.iteration != (long)i)
			rc = lr_err_set(err, LR_EPROTO, "report.json of iteration %zu says %ld", i,
			                s.iteration);
		if (rc < 0)
			goto cleanup;
		summary = strdup(e->subject ? e->subject : "");
		if (summary == NULL || loop_push_iter(L, &s.it, e->oid, summary, s.refactor_kept,
		                                      s.refactor_reason) < 0) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto cleanup;
		}
		L->tokens_total = s.tokens_total;
		L->elapsed0 = s.elapsed_s;
		if (i + 1 == ne) {
			if (!iteration_recorded(L, (long)i))
				rc = restore_iteration(L, (long)i, code->data, rep->data, err);
			if (rc < 0)
				goto cleanup;
		}
		gitstore_snapshot_clear(&snap);
	}
	if (ne > 0)
		log_info(
		    "job %s attempt %ld: resuming after iteration %zu (%ld tokens, %.1f s used)",
		    L->id, L->attempt, ne - 1, L->tokens_total, L->elapsed0);
	rc = 0;
cleanup:
	gitstore_snapshot_clear(&snap);
	gitstore_log_free(log, ne);
	return rc;
}

int loop_store_commit(loop_run *L, long n, const char *code, const char *report,
                      const char *summary, char oid[GITSTORE_OID_HEX + 1], int *existed,
                      lr_err *err)
{
	gitstore_file files[3];
	gitstore_commit_req req;
	char *io_json = NULL;
	int tries = 0;
	int rc;

	memset(&req, 0, sizeof(req));
	files[0].name = "solution.py";
	files[0].data = code ? code : "";
	files[0].len = strlen(files[0].data);
	files[1].name = "report.json";
	files[1].data = report;
	files[1].len = strlen(report);
	req.nfiles = 2;
	if (L->spec->tests != NULL && *L->spec->tests) {
		files[2].name = "tests.py";
		files[2].data = L->spec->tests;
		files[2].len = strlen(L->spec->tests);
		req.nfiles = 3;
	} else if (L->spec->io != NULL) { /* io cases, as the job gave them */
		json_object *o = lr_iotests_to_json(L->spec->io);

		io_json = o ? lr_json_dump(o) : NULL;
		json_object_put(o);
		if (io_json == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		files[2].name = "tests.json";
		files[2].data = io_json;
		files[2].len = strlen(io_json);
		req.nfiles = 3;
	}
	req.iteration = n;
	req.summary = summary;
	req.files = files;
	while ((rc = gitstore_commit(oid, existed, L->gs, &req, err)) < 0 && recover(L, rc, &tries))
		;
	free(io_json);
	return rc;
}

int loop_store_load(loop_run *L, long n, char **code, char **report, lr_err *err)
{
	gitstore_snapshot snap;
	const gitstore_blob *c, *r;
	int tries = 0;
	int rc;

	*code = *report = NULL;
	if (n < 0 || (size_t)n >= L->n)
		return lr_err_set(err, LR_EINVAL, "no iteration %ld", n);
	while ((rc = gitstore_read(&snap, L->gs, L->recs[n].commit, err)) < 0 &&
	       recover(L, rc, &tries))
		;
	if (rc < 0)
		return rc;
	c = gitstore_snapshot_file(&snap, "solution.py");
	r = gitstore_snapshot_file(&snap, "report.json");
	if (c && r) {
		*code = strdup(c->data);
		*report = strdup(r->data);
		rc = *code && *report ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
	} else {
		rc = lr_err_set(err, LR_EPROTO, "iteration %ld's commit lacks its files", n);
	}
	if (rc < 0) {
		free(*code);
		free(*report);
		*code = *report = NULL;
	}
	gitstore_snapshot_clear(&snap);
	return rc;
}

int loop_store_tag(loop_run *L, long n, const char *message, char tag_oid[GITSTORE_OID_HEX + 1],
                   lr_err *err)
{
	int existed = 0, tries = 0;
	int rc;

	while ((rc = gitstore_tag_accepted(tag_oid, &existed, L->gs, L->recs[n].commit, message,
	                                   err)) < 0 &&
	       recover(L, rc, &tries))
		;
	return rc;
}

int loop_store_push(loop_run *L, const char *url, const char *ref, lr_err *err)
{
	/* Not retried here: an I/O error may be the remote's, not Redis's. */
	return gitstore_push(L->gs, url, ref, 1, 0, err);
}
