/* session_git.h - a REPL session's git history: one commit per recorded cell.
 *
 * The history is the session_open job's (the session id is that job's id):
 * `P job:<sid>:git:objects` and `P job:<sid>:git:refs`, so it is read as any
 * job's history is (`llmrepl git log <sid>`, GET /jobs/<sid>/history).
 * Cell N (1-based) is iteration N-1, a commit of `cell.py` (its code),
 * `session.py` (the recorded cells up to it, while that fits the store's file
 * cap) and `report.json` (the cell's report). The commit follows the
 * answer: the exec job is finished as done first, then its cell is committed
 * and the job's `commit` field set. Writes are fenced by the exec job's
 * attempt, running or having finished the job. A cell recorded by a worker that died before
 * committing it is committed by the next cell (report.json then says
 * `"backfilled": true`: its output was not kept). The keys, and the open
 * job's record, expire after the job's retention from the session's last
 * cell (at least its idle timeout). */
#ifndef LLMREPL_SESSION_GIT_H
#define LLMREPL_SESSION_GIT_H

#include "gitstore.h"
#include "job_ctx.h"
#include "session_store.h"

/* A cell to commit: cell n + 1 of its session (the code recorded after
 * the first n cells), with its report and summary. */
typedef struct sg_cell {
	size_t n;
	const char *code;
	const char *report; /* the cell's result JSON */
	const char *summary;
} sg_cell;

/* Commit the cell, first committing any earlier recorded cell the history
 * lacks; the exec job (ctx's), once its attempt has finished it as done,
 * gets `commit`. oid receives the commit's id. */
int sg_commit_cell(lr_jobctx *ctx, const ss_session *ss, const char *sid, const sg_cell *cell,
                   char oid[GITSTORE_OID_HEX + 1], lr_err *err);

#endif
