/* Unit tests for common/queue_lua: what the scripts must agree on with C. */
#include "batch_lua.h"
#include "check.h"
#include "job.h"
#include "queue_lua.h"

#include <stdio.h>

/* Every kind of job.h is in the scripts' set of kinds and has its counters
 * (total:<final state>:<kind>) in the list the scripts check. */
TEST(scripts_know_every_kind)
{
	static const char *const finals[] = {"done", "cancelled", "rejected", "dead"};

	for (int k = 0; k < LR_KIND_COUNT; k++) {
		const char *name = lr_job_kind_name((lr_job_kind)k);
		char want[96];

		snprintf(want, sizeof(want), "%s = true,", name);
		CHECK_CONTAINS(lr_lua_claim.src, want);
		for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
			snprintf(want, sizeof(want), "'total:%s:%s'", finals[i], name);
			CHECK_CONTAINS(lr_lua_claim.src, want);
		}
	}
}

/* Every script runs its body through the epilogue that turns a refusal
 * into an error reply (nothing written before it). */
TEST(every_script_has_the_epilogue)
{
	const lr_script *all[] = {
	    &lr_lua_intake,    &lr_lua_take,    &lr_lua_claim,      &lr_lua_renew,
	    &lr_lua_write,     &lr_lua_finish,  &lr_lua_fail,       &lr_lua_reclaim,
	    &lr_lua_promote,   &lr_lua_orphans, &lr_lua_cancel,     &lr_lua_heartbeat,
	    &lr_lua_gc,        &lr_lua_repair,  &lr_lua_bq_open,    &lr_lua_bq_claim,
	    &lr_lua_bq_record, &lr_lua_bq_find, &lr_lua_finish_next};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		CHECK_CONTAINS(all[i]->src, "local ok, res = pcall(main)");
}

/* The finish that takes the next job claims it with the claim script's own
 * rules, and finishes with the finish script's: one source for each. */
TEST(finish_next_shares_the_claim_and_the_finish)
{
	CHECK_CONTAINS(lr_lua_claim.src, "local function claim_job(");
	CHECK_CONTAINS(lr_lua_finish.src, "local function finish_job(");
	CHECK_CONTAINS(lr_lua_finish_next.src, "local function claim_job(");
	CHECK_CONTAINS(lr_lua_finish_next.src, "local function finish_job(");
	CHECK_CONTAINS(lr_lua_finish_next.src, "claim_job(id, e[1], worker, lease_ms, spec_max)");
}

int main(void)
{
	RUN(scripts_know_every_kind);
	RUN(every_script_has_the_epilogue);
	RUN(finish_next_shares_the_claim_and_the_finish);
	return check_summary();
}
