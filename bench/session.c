/* bench/session - a cell in a warm REPL session beside running the same
 * code afresh, all measured in this one run on this machine:
 *
 *   held      sbx_held_call() of a trivial cell ("x + 1") in a held
 *             interpreter that ran "x = 41" once: a warm session's cell
 *   replay    the same cell in a pooled run that replays the session first
 *             (mode "session", one earlier cell): what a worker without a
 *             held interpreter does
 *   pool      sbx_pool_run() of an exec of "x = 41\nx + 1"
 *   cold      sbx_run() of the same exec: a cold evaluate's sandbox
 *
 * each as p50/p95 over --runs runs (default 200; cold: a quarter of them).
 * Goal: held under 2 ms at p50. Usage: session [RUNS] */
#include "sbx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char cell[] = "{\"code\": \"x + 1\", \"timeout_s\": 5}";
static const char first[] = "{\"code\": \"x = 41\", \"timeout_s\": 5}";
static const char replay[] =
    "{\"mode\": \"session\", \"cells\": [\"x = 41\"], \"code\": \"x + 1\", \"timeout_s\": 5}";
static const char once[] = "{\"mode\": \"exec\", \"code\": \"x = 41\\nx + 1\"}";

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%-8s p50 %8.3f ms   p95 %8.3f ms   (%d runs)\n", name, v[n / 2] * 1e3,
	       v[(int)(0.95 * (n - 1) + 0.5)] * 1e3, n);
}

static int ok(const sbx_result *r, const char *what, const char *want)
{
	if (r->end == SBX_END_EXITED && r->exit_code == 0 &&
	    (want == NULL || (r->answer && strstr(r->answer, want))))
		return 1;
	fprintf(stderr, "bench: %s: %s %s %s\n", what, sbx_end_name(r->end), r->detail,
	        r->answer ? r->answer : "");
	return 0;
}

typedef int (*run_fn)(void *arg, sbx_result *r);

static int measure(const char *name, run_fn fn, void *arg, int runs, const char *want)
{
	double *t = calloc((size_t)runs, sizeof(*t));
	int good = t != NULL;

	for (int i = 0; good && i < runs; i++) {
		sbx_result r;
		double t0 = now();

		fn(arg, &r);
		t[i] = now() - t0;
		good = ok(&r, name, want);
		sbx_result_free(&r);
	}
	if (good)
		report(name, t, runs);
	free(t);
	return good ? 0 : 1;
}

static int held_cell(void *h, sbx_result *r)
{
	return sbx_held_call(h, r, cell, sizeof(cell) - 1, 5);
}

static int pool_replay(void *p, sbx_result *r)
{
	return sbx_pool_run(p, r, NULL, replay, sizeof(replay) - 1);
}

static int pool_once(void *p, sbx_result *r)
{
	return sbx_pool_run(p, r, NULL, once, sizeof(once) - 1);
}

static int cold_once(void *unused, sbx_result *r)
{
	(void)unused;
	return sbx_run(r, NULL, NULL, once, sizeof(once) - 1);
}

int main(int argc, char **argv)
{
	static const char start[] = "{\"mode\":\"repl\"}";
	int runs = argc > 1 ? atoi(argv[1]) : 200;
	sbx_limits lim;
	sbx_held *h = NULL;
	sbx_pool *pool = NULL;
	sbx_result r;
	char msg[256];
	int bad = 0;

	if (runs < 4)
		runs = 4;
	sbx_limits_default(&lim);
	lim.cpu_s = 3600;
	if (sbx_held_start(&h, NULL, &lim, start, sizeof(start) - 1, msg, sizeof(msg)) < 0 ||
	    sbx_pool_start(&pool, NULL, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench: %s\n", msg);
		return 1;
	}
	sbx_held_call(h, &r, first, sizeof(first) - 1, 10);
	bad |= !ok(&r, "first cell", NULL);
	sbx_result_free(&r);
	bad |= measure("held", held_cell, h, runs, "\"42\"");
	bad |= measure("replay", pool_replay, pool, runs, "\"42\"");
	bad |= measure("pool", pool_once, pool, runs, NULL);
	bad |= measure("cold", cold_once, NULL, runs / 4, NULL);
	sbx_held_free(h);
	sbx_pool_free(pool);
	return bad;
}
