/* batch_share.c - recording a batch item's outcome (see batch_share.h). */
#include "batch_share.h"

#include "log.h"
#include "result_trim.h"
#include "wk_metrics.h"

/* A claim's length at most: a helper that died holds its items no longer. */
#define CLAIM_MAX_MS 10000

void wk_bs_count(const char *role, int rc, int already)
{
	const char *v[2] = {role, rc == LR_ESTALE ? "refused"
	                          : rc < 0        ? "failed"
	                          : already       ? "already"
	                                          : "recorded"};

	lr_metric_inc(wk_m.batch_items, 1, v);
}

long wk_bs_claim_ms(const wk_config *cfg)
{
	long ms = cfg->lease_ms > 0 ? cfg->lease_ms : 30000;

	return ms < CLAIM_MAX_MS ? ms : CLAIM_MAX_MS;
}

void wk_bs_fixed(const char *id, const char *fixed)
{
	if (fixed != NULL && *fixed)
		log_warn("batch job %s: %s", id, fixed);
}

int wk_bs_record(lr_q *q, const wk_config *cfg, const char *id, long attempt, size_t n,
                 const lr_job_spec *it, eval_outcome *out, int *already, lr_err *err)
{
	long kb = cfg->result_max_kb;
	lr_bq_item rec;
	char by[128] = "";
	int rc;

	if (out->result_json != NULL &&
	    wk_result_trim(&out->result_json,
	                   kb > 0 ? (size_t)kb * 1024 : (size_t)WK_RESULT_MAX_DEFAULT, NULL) < 0)
		log_warn("batch job %s item %zu: out of memory compacting its report", id, n);
	rec.n = n;
	rec.item_id = it->item_id;
	rec.worker = cfg->name;
	rec.passed = out->passed;
	rec.report = out->result_json;
	rec.summary = out->summary;
	rec.error = out->error;
	rec.tests_passed = out->tests_passed;
	rec.tests_total = out->tests_total;
	rc = lr_bq_record(q, id, attempt, &rec, already, by, sizeof(by), err);
	if (rc == 0 && *already)
		log_info(
		    "batch job %s item %zu ('%.64s'): recorded already by %s; this run's outcome "
		    "is dropped",
		    id, n, it->item_id, *by ? by : "another worker");
	return rc;
}
