/* batch_q.h - a batch job's items shared by several workers (the Redis side;
 * docs/protocol.md "Batch jobs", the scripts in batch_lua.c).
 *
 * The worker running a batch job (its owner) opens it: the items not yet
 * recorded are listed in P job:<id>:todo and the job in P batches. Then
 * every worker that runs items, the owner and idle helpers alike, claims a
 * few at a time (a claim is a lease: it expires unless its holder extends
 * it, and an expired one is claimed again), evaluates them and records each
 * one; the first record of an item wins, a later one is dropped. Every call
 * is fenced on the job's attempt, as the owner's own writes are: once the
 * attempt is over (cancelled, reclaimed, finished) a helper's claims and
 * records are refused with LR_ESTALE. */
#ifndef LLMREPL_BATCH_Q_H
#define LLMREPL_BATCH_Q_H

#include "queue.h"

#include <stddef.h>

#define LR_BQ_CLAIM_MAX 64 /* items one claim takes at most */

/* An owner's attempt as it opens: the batch's items, and what the opening
 * found. */
typedef struct lr_bq_opening {
	size_t nitems;       /* the batch's items */
	size_t done, passed; /* recorded so far, and passed */
	const size_t *todo;  /* the items not recorded: todo[0..ntodo) */
	size_t ntodo;
	int share;       /* list the job in P batches for other workers */
	int opened;      /* out: other workers may help (an item is left, the key usable) */
	char fixed[400]; /* out: what the script put right, "" for nothing */
} lr_bq_opening;

/* The owner, as its attempt starts: the items not done wait to be claimed,
 * the earlier attempt's claims are void, items_total, items_done and
 * items_passed are set; with o->share the job is listed in P batches. */
int lr_bq_open(lr_q *q, const char *id, long attempt, lr_bq_opening *o, lr_err *err);

/* A worker claiming a batch's items: the same for every claim of its run of
 * one attempt. */
typedef struct lr_bq_claimer {
	lr_q *q;
	const char *id; /* the batch job */
	long attempt;
	const char *worker;
	size_t nitems; /* the batch's items */
	long claim_ms; /* how long a claim lasts unless extended */
} lr_bq_claimer;

typedef struct lr_bq_claimed {
	size_t idx[LR_BQ_CLAIM_MAX]; /* the indexes claimed now */
	size_t n;
	long left;       /* items not recorded yet, claimed or not */
	size_t lost;     /* held indexes that are no longer this worker's */
	char fixed[400]; /* what the script put right, "" for nothing */
} lr_bq_claimed;

/* Extend this worker's claims on held[0..nheld) to claim_ms from now, then
 * claim up to k (<= LR_BQ_CLAIM_MAX) items nobody holds. */
int lr_bq_claim(const lr_bq_claimer *cl, const size_t *held, size_t nheld, size_t k,
                lr_bq_claimed *c, lr_err *err);

/* One item's outcome. */
typedef struct lr_bq_item {
	size_t n;
	const char *item_id;
	const char *worker; /* who ran it, kept in its record */
	int passed;
	const char *report; /* the evaluate report JSON */
	const char *summary;
	const char *error;
	int tests_passed, tests_total;
} lr_bq_item;

/* Record item n: its iteration P job:<id>:it:<n> (with `worker`), an `item`
 * event and the counts, once. *already = 1 when it was recorded before
 * (this outcome is then dropped; by, optional, gets who ran it). */
int lr_bq_record(lr_q *q, const char *id, long attempt, const lr_bq_item *it, int *already,
                 char *by, size_t bysz, lr_err *err);

/* Wait for a record of job id's items: returns 0 at once when its todo
 * list holds fewer than `left` items (one was recorded since the claim
 * that counted them), else after the job's next event or block_ms,
 * whichever comes first (the stream's last entry is read before the list
 * is counted, so a record is either counted or waited for). Redis errors
 * are returned as they are. */
int lr_bq_wait_record(lr_q *q, const char *id, long left, long block_ms, lr_err *err);

/* The oldest open batch another worker runs with an item nobody holds:
 * *found = 1 with its id, attempt and the worker running it (owner, cut to
 * ownersz), else 0. */
int lr_bq_find(lr_q *q, const char *worker, char id[LR_JOB_ID_MAX + 1], long *attempt, char *owner,
               size_t ownersz, int *found, lr_err *err);

#endif
