/* bench/sandbox - what a sandboxed run costs, beside the bare interpreter.
 *
 * Prints, all measured in this one run on this machine:
 *   baseline   /usr/bin/python3 -I -S -c pass, spawned and waited for
 *   cold       sbx_run() of {"mode":"exec","code":"pass"}: a fresh sandbox
 *   pool       sbx_pool_run() of the same request through a pre-forked pool
 * each as p50/p95 over --runs runs, then runs per second with 1 and 2
 * concurrent callers (each caller its own pool) for --seconds each.
 * Targets: cold within 1.5x the baseline, pool under 3 ms at p50. */
#include "sbx.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char request[] = "{\"mode\": \"exec\", \"code\": \"pass\"}";

/* --avoid: the configuration every run uses (NULL: the defaults). */
static sbx_config config;
static const sbx_config *cfg;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds used so far by this process (who = RUSAGE_SELF) or by its
 * reaped descendants (RUSAGE_CHILDREN). */
static double cpu_used(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[i];
}

static int bare_once(void)
{
	char *argv[] = {"/usr/bin/python3", "-I", "-S", "-c", "pass", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int check(const sbx_result *r, const char *what)
{
	if (r->end == SBX_END_EXITED && r->exit_code == 0)
		return 0;
	fprintf(stderr, "bench: %s run failed: %s %s\n", what, sbx_end_name(r->end), r->detail);
	return -1;
}

typedef struct worker {
	int pooled;
	double seconds;
	long runs;
	int failed;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	sbx_pool *pool = NULL;
	char msg[256];
	double end;

	if (w->pooled && sbx_pool_start(&pool, cfg, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench: pool: %s\n", msg);
		w->failed = 1;
		return NULL;
	}
	end = now() + w->seconds;
	while (now() < end) {
		sbx_result r;

		if (pool)
			sbx_pool_run(pool, &r, NULL, request, sizeof(request) - 1);
		else
			sbx_run(&r, cfg, NULL, request, sizeof(request) - 1);
		if (check(&r, pool ? "pool" : "cold") < 0)
			w->failed = 1;
		sbx_result_free(&r);
		if (w->failed)
			break;
		w->runs++;
	}
	sbx_pool_free(pool);
	return NULL;
}

static double throughput(int pooled, int callers, double seconds)
{
	pthread_t t[2];
	worker w[2];
	long runs = 0;

	for (int i = 0; i < callers; i++) {
		w[i] = (worker){pooled, seconds, 0, 0};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < callers; i++) {
		pthread_join(t[i], NULL);
		if (w[i].failed)
			return -1;
		runs += w[i].runs;
	}
	return (double)runs / seconds;
}

int main(int argc, char **argv)
{
	int n = 100;
	double seconds = 3;
	double *bare, *cold, *pooled;
	sbx_pool *pool = NULL;
	char msg[256];
	char iso[256];
	double b50, c50, p50;
	double cpu0, host0, bare_cpu, cold_cpu, host_cpu;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			n = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else if (strcmp(argv[i], "--avoid") == 0 && i + 1 < argc) {
			char bad[64];

			sbx_config_default(&config);
			if (sbx_isolation_parse(argv[++i], &config.avoid, bad, sizeof(bad)) < 0) {
				fprintf(stderr, "bench: unknown protection %s\n", bad);
				return 2;
			}
			cfg = &config;
		} else {
			fprintf(stderr,
			        "usage: %s [--runs N] [--seconds S] [--avoid cgroup,seccomp]\n",
			        argv[0]);
			return 2;
		}
	}
	if (n < 5)
		n = 5;
	bare = calloc((size_t)n, sizeof(double));
	cold = calloc((size_t)n, sizeof(double));
	pooled = calloc((size_t)n, sizeof(double));
	if (!bare || !cold || !pooled)
		return 1;

	/* Warm the page cache and the library's one-time setup first. */
	for (int i = 0; i < 3; i++) {
		sbx_result r;

		bare_once();
		sbx_run(&r, cfg, NULL, request, sizeof(request) - 1);
		if (check(&r, "cold") < 0)
			goto out;
		sbx_isolation_str(r.isolation, iso, sizeof(iso));
		sbx_result_free(&r);
	}
	cpu0 = cpu_used(RUSAGE_CHILDREN);
	for (int i = 0; i < n; i++) {
		double t0 = now();

		if (bare_once() < 0) {
			fprintf(stderr, "bench: python3 -I -S -c pass failed\n");
			goto out;
		}
		bare[i] = now() - t0;
	}
	bare_cpu = (cpu_used(RUSAGE_CHILDREN) - cpu0) / n;
	/* The sandbox's CPU: the host side here, the init, python and anything
	 * else of the run (reaped through the init) in RUSAGE_CHILDREN. */
	cpu0 = cpu_used(RUSAGE_CHILDREN) + cpu_used(RUSAGE_SELF);
	host0 = cpu_used(RUSAGE_SELF);
	for (int i = 0; i < n; i++) {
		sbx_result r;
		double t0 = now();

		sbx_run(&r, cfg, NULL, request, sizeof(request) - 1);
		cold[i] = now() - t0;
		if (check(&r, "cold") < 0)
			goto out;
		sbx_result_free(&r);
	}
	cold_cpu = (cpu_used(RUSAGE_CHILDREN) + cpu_used(RUSAGE_SELF) - cpu0) / n;
	host_cpu = (cpu_used(RUSAGE_SELF) - host0) / n;
	if (sbx_pool_start(&pool, cfg, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench: pool: %s\n", msg);
		goto out;
	}
	for (int i = -3; i < n; i++) {
		sbx_result r;
		double t0 = now();

		sbx_pool_run(pool, &r, NULL, request, sizeof(request) - 1);
		if (i >= 0)
			pooled[i] = now() - t0;
		if (check(&r, "pool") < 0)
			goto out;
		sbx_result_free(&r);
	}
	sbx_pool_free(pool);
	pool = NULL;

	printf("sandbox bench: %d runs each; isolation: %s\n", n, iso);
	b50 = pct(bare, n, 0.5);
	c50 = pct(cold, n, 0.5);
	p50 = pct(pooled, n, 0.5);
	printf("%-44s p50 %7.2f ms  p95 %7.2f ms\n", "baseline: python3 -I -S -c pass", b50 * 1e3,
	       pct(bare, n, 0.95) * 1e3);
	printf("%-44s p50 %7.2f ms  p95 %7.2f ms  (%.2fx baseline; target <= 1.5x)\n",
	       "cold sandboxed run (sbx_run)", c50 * 1e3, pct(cold, n, 0.95) * 1e3, c50 / b50);
	printf("%-44s p50 %7.2f ms  p95 %7.2f ms  (target < 3 ms; best %.2f ms)\n",
	       "pre-forked run (sbx_pool_run)", p50 * 1e3, pct(pooled, n, 0.95) * 1e3,
	       pooled[0] * 1e3);
	/* Scheduling on a busy machine stretches wall times; CPU time does not. */
	printf("%-44s baseline %.2f ms, cold %.2f ms (%.2fx; host side %.2f ms)\n", "CPU per run",
	       bare_cpu * 1e3, cold_cpu * 1e3, cold_cpu / bare_cpu, host_cpu * 1e3);
	for (int pooled_mode = 0; pooled_mode < 2; pooled_mode++)
		for (int callers = 1; callers <= 2; callers++) {
			double rps = throughput(pooled_mode, callers, seconds);

			if (rps < 0)
				goto out;
			printf("%-44s %8.1f runs/s\n",
			       pooled_mode ? (callers == 1 ? "pool, 1 caller" : "pool, 2 callers")
			                   : (callers == 1 ? "cold, 1 caller" : "cold, 2 callers"),
			       rps);
		}
	rc = 0;
out:
	sbx_pool_free(pool);
	free(bare);
	free(cold);
	free(pooled);
	return rc;
}
