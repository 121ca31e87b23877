/* batch_share.h - what the worker running a batch job and the workers
 * helping it share (the Redis side: common/batch_q.h): how long a claim on
 * items lasts, and recording one item's outcome. */
#ifndef LLMREPL_BATCH_SHARE_H
#define LLMREPL_BATCH_SHARE_H

#include "batch_q.h"
#include "eval.h"
#include "job.h"
#include "worker.h"

/* A claim lasts the worker's lease, 10 s at most, and is extended every
 * third of that (a helper's at least every second). */
long wk_bs_claim_ms(const wk_config *cfg);

/* Record item n (it) of job id's attempt as run by this worker: its report
 * compacted to --result-max-kb first (result_trim.h), so a batch's result,
 * which lists every item, is bounded by items x that; then one fenced
 * write (lr_bq_record). *already = 1 when the item was recorded before (by
 * another worker: this outcome is dropped and logged). */
int wk_bs_record(lr_q *q, const wk_config *cfg, const char *id, long attempt, size_t n,
                 const lr_job_spec *it, eval_outcome *out, int *already, lr_err *err);
/* Count a record's outcome (llmrepl_worker_batch_items_total): role "owner"
 * or "helper", rc and already as wk_bs_record gave them. */
void wk_bs_count(const char *role, int rc, int already);

/* Log what a script put right in the batch's keys (also in its events). */
void wk_bs_fixed(const char *id, const char *fixed);

#endif
