/* session_store.h - a REPL session's record on Redis.
 *
 *   P session:<id>         hash: state (open), created, last_used (ms),
 *                          idle_timeout_ms, timeout_s, memory_mb, max_cells,
 *                          cells (how many are recorded), replay_s (their
 *                          summed run time), last_job (the exec job that
 *                          recorded the last cell), worker (that ran it:
 *                          the worker holding the session), git_cells (cells
 *                          committed to its history)
 *   P session:<id>:cells   list: the code of each recorded cell, in order
 *
 * Both keys expire idle_timeout_ms after the session was last used, so an
 * idle session ends by itself. The id is the id of the session_open job. */
#ifndef LLMREPL_SESSION_STORE_H
#define LLMREPL_SESSION_STORE_H

#include "err.h"
#include "queue.h"

#include <stddef.h>

typedef struct ss_session {
	int exists;
	long idle_timeout_ms;
	double timeout_s;
	long memory_mb;
	long max_cells;
	double replay_s;
	char last_job[LR_JOB_ID_MAX + 1];
	size_t git_cells; /* cells committed to its history (session_git.c) */
	size_t ncells;
	char **cells; /* ncells codes (owned) */
	size_t *lens;
} ss_session;

void ss_session_free(ss_session *s);

/* Create the session (nothing when it exists: a repeated open). */
int ss_open(lr_q *q, const char *id, long idle_timeout_ms, double timeout_s, long memory_mb,
            long max_cells, lr_err *err);

/* Read the record and its cells; s->exists = 0 when there is none. */
int ss_load(lr_q *q, const char *id, ss_session *s, lr_err *err);

/* A cell to record. */
typedef struct ss_cell {
	size_t n;           /* it ran on the first n cells */
	int record;         /* 0: only mark the session used */
	const char *code;   /* its code */
	const char *job;    /* the exec job that ran it */
	const char *worker; /* the worker that ran it (and holds the session) */
	double cell_s;      /* its run time */
} ss_cell;

/* What became of a cell: the record script's answer ("ok", "gone",
 * "conflict"). */
typedef enum ss_outcome {
	SS_RECORDED, /* recorded, or the session marked used */
	SS_GONE,     /* the session was closed or expired meanwhile */
	SS_CONFLICT, /* another cell was recorded since the session was read */
} ss_outcome;

/* Record the cell. *outcome: what became of it. */
int ss_record(lr_q *q, const char *id, const ss_cell *cell, ss_outcome *outcome, lr_err *err);

/* Delete the session; *existed says whether there was one. */
int ss_close(lr_q *q, const char *id, int *existed, lr_err *err);

#endif
