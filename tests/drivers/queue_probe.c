/* queue_probe - run one step of the job protocol (common/queue) against a
 * real server, for tests/integration/test_queue_protocol.py. Each step is
 * what a dispatcher or worker does, one at a time, so tests can interleave
 * them deterministically (a stale worker writing after a reclaim, ...).
 *
 *   queue_probe URL PREFIX groups
 *   queue_probe URL PREFIX take CONSUMER COUNT MAX_BYTES [ID...]   "id<TAB>spec" lines
 *   queue_probe URL PREFIX intake ID queued|rejected KIND SPEC ERROR
 *   queue_probe URL PREFIX next WORKER LEASE_MS                    "id attempt kind" or "none"
 *   queue_probe URL PREFIX renew ID ATTEMPT WORKER LEASE_MS
 *   queue_probe URL PREFIX write ID ATTEMPT FIELD VALUE [ITER|-] [AUX|-]
 *   queue_probe URL PREFIX event ID ATTEMPT TYPE MSG
 *   queue_probe URL PREFIX finish ID ATTEMPT PASSED RESULT ERROR SUMMARY
 *   queue_probe URL PREFIX fail ID ATTEMPT retry|release|dead REASON
 *   queue_probe URL PREFIX reclaim | promote | orphans IDLE_MS | gc IDLE_MS GONE_MS
 *   queue_probe URL PREFIX cancel ID
 *   queue_probe URL PREFIX heartbeat WORKER TTL_MS | unregister WORKER
 *   queue_probe URL PREFIX repair COUNT              a whole pass: "calls fixed"
 *
 * QP_REPLY_MAX bounds a reply (bytes; default the client's). The policy
 * comes from QP_TTL, QP_MAX_ATTEMPTS, QP_BACKOFF_MS (defaults
 * otherwise). Prints the outcome on stdout; on an error prints
 * "<code name>: <message>" on stderr and exits 1. */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v ? strtol(v, NULL, 10) : def;
}

static int op_take(lr_q *q, const lr_q_policy *pol, int argc, char **argv, lr_err *e)
{
	lr_q_taken t;
	int rc;

	if (argc < 3)
		return lr_err_set(e, LR_EINVAL, "take CONSUMER COUNT MAX_BYTES [ID...]");
	rc = lr_q_take(q,
	               &(lr_q_taking){argv[0], strtol(argv[1], NULL, 10),
	                              (size_t)strtoul(argv[2], NULL, 10), pol,
	                              (const char *const *)argv + 3, (size_t)(argc - 3)},
	               &t, e);
	for (size_t i = 0; rc == 0 && i < t.n; i++)
		printf("%s\t%s\n", t.reqs[i].id, t.reqs[i].spec);
	lr_q_taken_free(&t);
	return rc;
}

int main(int argc, char **argv)
{
	lr_redis_opts o = {0};
	lr_redis *r = NULL;
	lr_keys k;
	lr_q q = {NULL, &k};
	lr_q_policy pol;
	lr_err e;
	lr_q_state out = LR_QS_NONE;
	const char *op;
	char **a;
	int n;
	int rc;

	lr_err_clear(&e);
	if (argc < 4) {
		fprintf(stderr, "usage: queue_probe URL PREFIX OP ...\n");
		return 2;
	}
	lr_q_policy_default(&pol);
	pol.ttl_s = env_long("QP_TTL", pol.ttl_s);
	pol.max_attempts = env_long("QP_MAX_ATTEMPTS", pol.max_attempts);
	pol.backoff_ms = env_long("QP_BACKOFF_MS", pol.backoff_ms);
	o.url = argv[1];
	o.reply_max = (size_t)env_long("QP_REPLY_MAX", 0);
	if (lr_keys_init(&k, argv[2], &e) < 0 || lr_redis_open(&r, &o, &e) < 0) {
		fprintf(stderr, "%s: %s\n", lr_err_name(e.code), e.msg);
		return 1;
	}
	q.r = r;
	op = argv[3];
	a = argv + 4;
	n = argc - 4;
	if (strcmp(op, "groups") == 0) {
		rc = lr_q_ensure_groups(&q, &e);
	} else if (strcmp(op, "take") == 0) {
		rc = op_take(&q, &pol, n, a, &e);
	} else if (strcmp(op, "intake") == 0 && n == 5) {
		lr_q_record rec = {
		    a[0], strcmp(a[1], "queued") == 0, a[2], a[3], strlen(a[3]), strlen(a[3]), a[4],
		    NULL};
		int recorded = 0;

		rc = lr_q_intake(&q, &rec, &pol, &recorded, &e);
		if (rc == 0)
			printf("%s\n", !recorded ? "exists" : rec.queued ? "queued" : "rejected");
	} else if (strcmp(op, "next") == 0 && n == 2) {
		lr_q_job job;
		lr_q_claim c = {a[0], strtol(a[1], NULL, 10), &job, 0};

		rc = lr_q_next(&q, 100, &c, &e);
		if (rc == 0 && c.got)
			printf("%s %ld %s\n", job.id, job.attempt, job.kind);
		else if (rc == 0)
			printf("none\n");
		if (c.got)
			lr_q_job_free(&job);
	} else if (strcmp(op, "renew") == 0 && n == 4) {
		rc = lr_q_renew(&q, a[0], strtol(a[1], NULL, 10), a[2], strtol(a[3], NULL, 10),
		                &out, NULL, &e);
		if (rc == 0)
			printf("ok\n");
	} else if ((strcmp(op, "write") == 0 && n == 6) || (strcmp(op, "event") == 0 && n == 4)) {
		lr_q_ops *ops = lr_q_ops_new();
		const char *f[1] = {a[2]};
		const char *v[1] = {a[3]};
		const char *ef[1] = {"msg"};

		if (strcmp(op, "event") == 0) {
			lr_q_ops_event(ops, a[2], 1, ef, (const char *const *)a + 3, NULL);
		} else {
			lr_q_ops_set(ops, 1, f, v, NULL);
			if (strcmp(a[4], "-") != 0)
				lr_q_ops_iter(ops, strtol(a[4], NULL, 10), 1, f, v, NULL);
			if (strcmp(a[5], "-") != 0)
				lr_q_ops_aux(ops, a[5]);
		}
		rc = lr_q_write(&q, a[0], strtol(a[1], NULL, 10), ops, &out, &e);
		lr_q_ops_free(ops);
		if (rc == 0)
			printf("ok\n");
	} else if (strcmp(op, "finish") == 0 && n == 6) {
		lr_q_result res = {.passed = strcmp(a[2], "1") == 0,
		                   .result = a[3],
		                   .error = a[4],
		                   .summary = a[5]};

		rc = lr_q_finish(&q, a[0], strtol(a[1], NULL, 10), &res, &out, &e);
		if (rc == 0)
			printf("%s\n", lr_q_state_name(out));
	} else if (strcmp(op, "fail") == 0 && n == 4) {
		lr_q_fail_mode m = strcmp(a[2], "release") == 0 ? LR_Q_RELEASE
		                   : strcmp(a[2], "dead") == 0  ? LR_Q_DEAD
		                                                : LR_Q_RETRY;

		rc = lr_q_fail(&q, a[0], strtol(a[1], NULL, 10), m, a[3], &out, &e);
		if (rc == 0)
			printf("%s\n", out == LR_QS_RETRY_WAIT ? "retry" : lr_q_state_name(out));
	} else if (strcmp(op, "reclaim") == 0 || strcmp(op, "promote") == 0 ||
	           (strcmp(op, "orphans") == 0 && n == 1)) {
		long cnt = 0;

		if (op[0] == 'r')
			rc = lr_q_reclaim(&q, 100, &cnt, &e);
		else if (op[0] == 'p')
			rc = lr_q_promote(&q, 100, &cnt, &e);
		else
			rc = lr_q_orphans(&q, strtol(a[0], NULL, 10), 100, &cnt, &e);
		if (rc == 0)
			printf("%ld\n", cnt);
	} else if (strcmp(op, "gc") == 0 && n == 2) {
		rc = lr_q_gc(&q, strtol(a[0], NULL, 10), strtol(a[1], NULL, 10), &e);
	} else if (strcmp(op, "cancel") == 0 && n == 1) {
		rc = lr_q_cancel(&q, a[0], "probe", &out, &e);
		if (rc == 0)
			printf("cancelled %s\n", lr_q_state_name(out));
	} else if (strcmp(op, "heartbeat") == 0 && n == 2) {
		const char *f[1] = {"pid"};
		const char *v[1] = {"1"};

		rc = lr_q_heartbeat(&q, a[0], strtol(a[1], NULL, 10), 1, f, v, &e);
	} else if (strcmp(op, "repair") == 0 && n == 1) {
		unsigned long long cursor = 0;
		long calls = 0, fixed = 0, f = 0;

		do {
			rc = lr_q_repair(&q, &cursor, strtol(a[0], NULL, 10), &f, &e);
			calls++;
			fixed += f;
		} while (rc == 0 && cursor != 0);
		if (rc == 0)
			printf("%ld %ld\n", calls, fixed);
	} else if (strcmp(op, "unregister") == 0 && n == 1) {
		rc = lr_q_unregister(&q, a[0], &e);
	} else {
		fprintf(stderr, "unknown operation or wrong arguments\n");
		lr_redis_close(r);
		return 2;
	}
	if (rc < 0)
		fprintf(stderr, "%s: %s\n", lr_err_name(rc), e.msg);
	lr_redis_close(r);
	return rc < 0 ? 1 : 0;
}
