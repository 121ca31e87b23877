/* upkeep.c - the dispatcher's timers: leases, retries, orphans, takeover of
 * a stopped dispatcher's requests, and forgetting what is gone. */
#include "dispatcher.h"

#include "log.h"

#define SCAN_LIMIT   100
#define SCAN_ROUNDS  10   /* per timer tick, so one busy timer cannot starve intake */
#define REPAIR_MS    2000 /* a repair round every 2 s: the shared keys, and ... */
#define REPAIR_PAGE  100  /* ... SCAN pages of about 100 keys, each one script call */
#define REPAIR_PAGES 10   /* ... at most 10 of them: other clients go between pages */

static int drain(int (*fn)(lr_q *, long, long *, lr_err *), disp *d, const char *what, lr_err *err)
{
	for (int i = 0; i < SCAN_ROUNDS; i++) {
		long n = 0;
		int rc = fn(&d->q, SCAN_LIMIT, &n, err);

		if (rc < 0)
			return rc;
		if (n > 0)
			log_info("%s %ld job(s)", what, n);
		if (n < SCAN_LIMIT)
			break;
	}
	return 0;
}

static long long at_least(long long ms, long long min)
{
	return ms < min ? min : ms;
}

int disp_repair(disp *d, int pages, lr_err *err)
{
	for (int i = 0; i < pages; i++) {
		int rc = lr_q_repair(&d->q, &d->repair_cursor, REPAIR_PAGE, NULL, err);

		if (rc < 0)
			return rc;
		if (d->repair_cursor == 0)
			break; /* a whole pass done */
	}
	return 0;
}

int disp_upkeep(disp *d, long long now, lr_err *err)
{
	int rc;

	/* First, so that upkeep meets keys of the right type. */
	if (now >= d->next_repair_ms) {
		rc = disp_repair(d, REPAIR_PAGES, err);
		if (rc < 0)
			return rc;
		d->next_repair_ms = now + REPAIR_MS;
	}

	if (now >= d->next_upkeep_ms) {
		rc = 0;
		if (now >= d->hold_reclaim_until_ms)
			rc = drain(lr_q_reclaim, d, "reclaimed (lease expired)", err);
		if (rc == 0)
			rc = drain(lr_q_promote, d, "requeued (retry due)", err);
		if (rc < 0)
			return rc;
		d->next_upkeep_ms = now + d->cfg.tick_ms;
	}
	if (now >= d->next_orphans_ms) {
		long n = 0;

		rc = lr_q_orphans(&d->q, d->cfg.lease_ms, SCAN_LIMIT, &n, err);
		if (rc < 0)
			return rc;
		if (n > 0)
			log_info("redelivered or dropped %ld orphaned work entries", n);
		d->next_orphans_ms = now + at_least(d->cfg.lease_ms / 2, 500);
	}
	if (now >= d->next_takeover_ms) {
		rc = disp_takeover(d, err);
		if (rc < 0)
			return rc;
		d->next_takeover_ms = now + at_least(d->cfg.request_claim_ms / 2, 1000);
	}
	if (now >= d->next_retain_ms) {
		for (int i = 0; i < SCAN_ROUNDS; i++) {
			long evicted = 0, expired = 0;
			long long bytes = 0;

			rc = lr_q_retain(&d->q, (long long)(d->cfg.max_finished_mb * 1048576.0),
			                 SCAN_LIMIT, &evicted, &expired, &bytes, err);
			if (rc < 0)
				return rc;
			if (evicted > 0)
				log_info(
				    "forgot %ld finished job(s), oldest first: finished jobs hold "
				    "%lld bytes, over --max-finished-mb %g",
				    evicted, bytes, d->cfg.max_finished_mb);
			if (evicted + expired < SCAN_LIMIT)
				break;
		}
		d->next_retain_ms = now + at_least(d->cfg.tick_ms, 250);
	}
	if (now >= d->next_gc_ms) {
		rc = lr_q_gc(&d->q, d->cfg.consumer_idle_ms, d->cfg.worker_gone_ms, err);
		if (rc < 0)
			return rc;
		d->next_gc_ms = now + at_least(d->cfg.consumer_idle_ms / 4, 1000);
		if (d->next_gc_ms > now + 60000)
			d->next_gc_ms = now + 60000;
	}
	return 0;
}
