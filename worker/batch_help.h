/* batch_help.h - an idle worker helps with another worker's batch job.
 *
 * When the worker's read of the work stream finds nothing waiting, it looks
 * for an open batch (P batches) run by another worker with an item nobody
 * holds, claims a few of its items (up to four per --batch-slots slot), evaluates
 * them on its slots exactly as the owner would (batch_run.h) and records
 * each under the job's current attempt (batch_share.h). Then it goes back to
 * the work stream before claiming more: a job that waits is never kept
 * waiting longer than those few items. Its claims are extended while they
 * run; a cancelled batch, or one whose attempt ended, refuses them, and the
 * helper stops its evaluations. While it evaluates them its presence record
 * (heartbeat.h) names the job, its attempt and the worker it helps, and
 * llmrepl_worker_busy is 1. */
#ifndef LLMREPL_BATCH_HELP_H
#define LLMREPL_BATCH_HELP_H

#include "heartbeat.h"
#include "queue.h"
#include "sbx.h"
#include "worker.h"

#include <signal.h>

/* One round: *helped = the items this worker claimed (0: nothing to help
 * with).
 * Returns <0 only for trouble with Redis (err says what). */
int wk_batch_help(lr_q *q, const wk_config *cfg, sbx_pool *pool, wk_hb *hb,
                  const volatile sig_atomic_t *stop, size_t *helped, lr_err *err);

/* Forget the batch spec kept between rounds (at the worker's end). */
void wk_batch_help_free(void);

#endif
