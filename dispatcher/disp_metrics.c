/* disp_metrics.c - the queue as Prometheus sees it, read from Redis at
 * scrape time on a connection of its own (the scrape runs on the listener's
 * thread). These are the deployment's numbers, the same from every
 * dispatcher: query one (or use max()) rather than sum() across them. */
#include "dispatcher.h"

#include "log.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	const disp_config *cfg;
	lr_redis *r;
	lr_metric *up, *jobs, *oldest, *requests, *workers, *submitted, *finished, *done;
	lr_metric *retries, *reclaims, *fenced, *dead, *evicted, *finished_bytes;
	lr_metric *callbacks, *callbacks_pending;
} dm;

static void set_counter(lr_metric *m, const redisReply *stats, const char *field)
{
	const redisReply *v = lr_reply_field(stats, field);

	lr_metric_set(m, v && lr_reply_is_str(v) ? strtod(v->str, NULL) : 0, NULL);
}

static int read_stats(lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	static const lr_q_state live[] = {LR_QS_QUEUED, LR_QS_RUNNING, LR_QS_RETRY_WAIT};
	int rc;

	rc = lr_redis_cmd(dm.r, &rep, err, "HGETALL %s", lr_key(&dm.cfg->keys, key, "stats"));
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		const char *name = lr_q_state_name(live[i]);
		const redisReply *v = lr_reply_field(rep, name);

		lr_metric_set(dm.jobs, v && lr_reply_is_str(v) ? strtod(v->str, NULL) : 0, &name);
	}
	set_counter(dm.submitted, rep, "total:submitted");
	set_counter(dm.retries, rep, "total:retries");
	set_counter(dm.reclaims, rep, "total:reclaimed");
	set_counter(dm.fenced, rep, "total:stale_writes");
	set_counter(dm.dead, rep, "total:dead");
	set_counter(dm.evicted, rep, "total:evicted");
	set_counter(dm.finished_bytes, rep, "finished_bytes");
	{
		static const lr_q_cb_outcome outcomes[] = {LR_CB_DELIVERED, LR_CB_FAILED};

		for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++) {
			const char *name = lr_q_cb_outcome_name(outcomes[i]);
			char f[48];
			const redisReply *v;

			snprintf(f, sizeof(f), "total:callbacks_%s", name);
			v = lr_reply_field(rep, f);
			lr_metric_set(dm.callbacks,
			              v && lr_reply_is_str(v) ? strtod(v->str, NULL) : 0, &name);
		}
	}
	{
		const redisReply *p = lr_reply_field(rep, "total:passed");
		const redisReply *f = lr_reply_field(rep, "total:failed");
		const char *vp[1] = {"passed"}, *vf[1] = {"failed"};

		lr_metric_set(dm.done, p && lr_reply_is_str(p) ? strtod(p->str, NULL) : 0, vp);
		lr_metric_set(dm.done, f && lr_reply_is_str(f) ? strtod(f->str, NULL) : 0, vf);
	}
	/* total:<final state>:<kind> */
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
		const char *f = lr_reply_elem_str(rep, i);
		const char *v = lr_reply_elem_str(rep, i + 1);
		char state[16];
		const char *colon;

		if (f == NULL || v == NULL || strncmp(f, "total:", 6) != 0)
			continue;
		colon = strchr(f + 6, ':');
		if (colon == NULL || (size_t)(colon - f - 6) >= sizeof(state))
			continue;
		memcpy(state, f + 6, (size_t)(colon - f - 6));
		state[colon - f - 6] = '\0';
		if (lr_q_state_final(state)) {
			const char *labels[2] = {colon + 1, state};

			lr_metric_set(dm.finished, strtod(v, NULL), labels);
		}
	}
	freeReplyObject(rep);
	return 0;
}

/* Age of the oldest job no worker has read yet: the first entry after the
 * group's last-delivered id. */
static int read_oldest(lr_err *err)
{
	char key[LR_KEY_MAX];
	char after[64] = "0-0";
	redisReply *rep = NULL;
	long long now_ms = 0;
	int rc;

	lr_key(&dm.cfg->keys, key, "jobs");
	rc = lr_redis_cmd(dm.r, &rep, err, "XINFO GROUPS %s", key);
	if (rc < 0)
		return rc;
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *g = rep->element[i];
		const redisReply *name = lr_reply_field(g, "name");
		const redisReply *last = lr_reply_field(g, "last-delivered-id");

		if (name && lr_reply_is_str(name) && strcmp(name->str, LR_GROUP_WORKERS) == 0 &&
		    last && lr_reply_is_str(last))
			snprintf(after, sizeof(after), "(%s", last->str);
	}
	freeReplyObject(rep);
	rc = lr_redis_cmd(dm.r, &rep, err, "TIME");
	if (rc < 0)
		return rc;
	if (lr_reply_elem_str(rep, 0) && lr_reply_elem_str(rep, 1))
		now_ms = strtoll(lr_reply_elem_str(rep, 0), NULL, 10) * 1000 +
		         strtoll(lr_reply_elem_str(rep, 1), NULL, 10) / 1000;
	freeReplyObject(rep);
	rc = lr_redis_cmd(dm.r, &rep, err, "XRANGE %s %s + COUNT 1", key,
	                  strcmp(after, "0-0") == 0 ? "-" : after);
	if (rc < 0)
		return rc;
	{
		double age = 0;

		if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
		    rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements > 0 &&
		    lr_reply_is_str(rep->element[0]->element[0])) {
			long long ms = strtoll(rep->element[0]->element[0]->str, NULL, 10);

			if (now_ms > ms)
				age = (double)(now_ms - ms) / 1000.0;
		}
		lr_metric_set(dm.oldest, age, NULL);
	}
	freeReplyObject(rep);
	return 0;
}

static int read_len(lr_metric *m, const char *cmd, const char *name, lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	long long n = 0;
	int rc = lr_redis_cmd(dm.r, &rep, err, cmd, lr_key(&dm.cfg->keys, key, name));

	if (rc < 0)
		return rc;
	rc = lr_reply_int(&n, rep, err);
	freeReplyObject(rep);
	lr_metric_set(m, (double)n, NULL);
	return rc;
}

static void collect(void *arg)
{
	lr_err err;
	int rc = 0;

	(void)arg;
	lr_err_clear(&err);
	if (dm.r == NULL) {
		lr_redis_opts o = dm.cfg->redis;

		o.client_name = "llmrepl-metrics";
		rc = lr_redis_open(&dm.r, &o, &err);
	}
	if (rc == 0)
		rc = read_stats(&err);
	if (rc == 0)
		rc = read_oldest(&err);
	if (rc == 0)
		rc = read_len(dm.requests, "XLEN %s", "requests", &err);
	if (rc == 0)
		rc = read_len(dm.workers, "ZCARD %s", "workers", &err);
	if (rc == 0)
		rc = read_len(dm.callbacks_pending, "ZCARD %s", "callbacks", &err);
	if (rc < 0 && !lr_q_err_nogroup(&err))
		log_warn("metrics: %s", err.msg);
	lr_metric_set(dm.up, rc == 0 || lr_q_err_nogroup(&err) ? 1 : 0, NULL);
}

int disp_metrics_init(const disp_config *cfg)
{
	dm.cfg = cfg;
	dm.up =
	    lr_metric_gauge("llmrepl_redis_up", "1 when the last scrape could read Redis.", NULL);
	dm.jobs =
	    lr_metric_gauge("llmrepl_queue_jobs",
	                    "Jobs not final, by state (queued, running, retry_wait).", "state");
	dm.oldest =
	    lr_metric_gauge("llmrepl_queue_oldest_queued_age_seconds",
	                    "Age of the oldest job no worker has taken yet (0: none).", NULL);
	dm.requests = lr_metric_gauge("llmrepl_requests_waiting",
	                              "Requests not yet taken by a dispatcher.", NULL);
	dm.workers = lr_metric_gauge("llmrepl_workers", "Workers in the registry.", NULL);
	dm.submitted =
	    lr_metric_counter("llmrepl_jobs_submitted_total", "Requests recorded as jobs.", NULL);
	dm.finished =
	    lr_metric_counter("llmrepl_jobs_finished_total",
	                      "Jobs that reached a final state, by kind and state.", "kind,state");
	dm.done = lr_metric_counter("llmrepl_jobs_done_total",
	                            "Jobs done, by result (passed or failed).", "result");
	dm.retries = lr_metric_counter("llmrepl_job_retries_total",
	                               "Attempts that failed and were retried with backoff.", NULL);
	dm.reclaims = lr_metric_counter("llmrepl_job_reclaims_total",
	                                "Running jobs whose lease expired.", NULL);
	dm.fenced =
	    lr_metric_counter("llmrepl_fenced_writes_total",
	                      "Writes refused because the attempt was no longer current.", NULL);
	dm.dead = lr_metric_counter("llmrepl_dead_letters_total",
	                            "Jobs that ended dead (gave up after max attempts).", NULL);
	dm.evicted = lr_metric_counter("llmrepl_jobs_evicted_total",
	                               "Finished jobs forgotten early to stay under "
	                               "--max-finished-mb (oldest first).",
	                               NULL);
	dm.finished_bytes = lr_metric_gauge("llmrepl_finished_jobs_bytes",
	                                    "Redis memory held by finished jobs' keys (measured "
	                                    "as each job ended).",
	                                    NULL);
	dm.callbacks = lr_metric_counter("llmrepl_callbacks_total",
	                                 "Completion callbacks that ended, by outcome (delivered, "
	                                 "failed).",
	                                 "outcome");
	dm.callbacks_pending = lr_metric_gauge("llmrepl_callbacks_pending",
	                                       "Callbacks in the outbox, not yet delivered.", NULL);
	return lr_metrics_on_collect(collect, NULL);
}

void disp_metrics_close(void)
{
	lr_redis_close(dm.r);
	dm.r = NULL;
}
