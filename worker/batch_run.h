/* batch_run.h - a batch's items evaluated on slot threads.
 *
 * Each slot thread evaluates the items the main thread hands it, exactly as
 * an evaluate job is evaluated (eval_run with the item's request), on a
 * sandbox pool of its own: slot 0 on the worker's, the others on pools
 * started by the first batch that needs them (on the worker's main thread,
 * whose life a pool's server is tied to) and kept until br_stop. The main
 * thread does everything else through the hooks: which items to run next
 * (the owner's own list, or claims shared with other workers), recording
 * each outcome, and the checks and renewals between them. Redis stays on
 * the main thread. */
#ifndef LLMREPL_BATCH_RUN_H
#define LLMREPL_BATCH_RUN_H

#include "eval.h"
#include "job.h"
#include "sbx.h"

typedef struct br_hooks {
	void *arg;
	/* More items to run, beside the ones handed out and not yet settled
	 * (held[0..nheld)): up to max indexes into idx, *n of them; *end = 1
	 * when no more will ever come. <0 ends the run (err set). */
	int (*feed)(void *arg, const size_t *held, size_t nheld, size_t *idx, size_t max, size_t *n,
	            int *end, lr_err *err);
	/* Item n's outcome (its strings may be taken). <0 ends the run. */
	int (*settle)(void *arg, size_t n, eval_outcome *out, lr_err *err);
	/* Between outcomes (at least every 200 ms), with the items handed out
	 * and not yet settled: 0 go on; 1 take no more items (those running are
	 * still settled); <0 end now. */
	int (*tick)(void *arg, const size_t *held, size_t nheld, lr_err *err);
	/* Any thread: stop the evaluations under way (non-zero). */
	int (*stop)(void *arg);
	/* Optional: nothing handed out here and feed gave nothing (others
	 * hold what is left): wait, at most ~200 ms, for a change elsewhere
	 * (an item recorded) instead of the 200 ms the main thread would
	 * otherwise wait. <0 ends the run. */
	int (*idle)(void *arg, lr_err *err);
} br_hooks;

/* Run items through up to nslots slot threads until feed says the end and
 * every item handed out is settled, or a hook ends the run (its code is
 * returned). A slot takes up to `group` items at once (no more than a third
 * of an even share of nitems) and evaluates them with eval_run_group: several in
 * one sandbox run when they can share it, each with the verdict of a run
 * of its own. */
int br_run(const lr_job_spec *items, size_t nitems, long nslots, size_t group, sbx_pool *own,
           const sbx_config *sc, const br_hooks *h, lr_err *err);

/* Items a slot takes now: an even share of the nready items ready among
 * the slots not running a group (running - busy, itself included), rounded
 * up, and no more than group. */
size_t br_share(size_t nready, int running, int busy, size_t group);

/* Stop the kept pools (at the worker's end). */
void br_stop(void);

#endif
