/* bench/sandbox - what a sandboxed run costs, beside the bare interpreter.
 *
 * Prints, all measured in this one run on this machine, each figure with its
 * ratio to the baseline's:
 *   baseline   /usr/bin/python3 -I -S -c pass, spawned and waited for
 *   cold       sbx_run() of {"mode":"exec","code":"pass"}: a fresh sandbox
 *   CLI        build/llmrepl-sandbox -c pass, spawned and waited for
 *   pool       sbx_pool_run() of the same request through a pre-forked pool
 * each as p50/p95 over --runs runs (the first three in turn, run by run) and
 * CPU per run (the pool's: the run's process, and the whole pool's from
 * its server's /proc counters), then runs per second with 1 and 2 concurrent callers (each
 * caller its own pool) for --seconds each.
 * Targets: cold within 1.2x the baseline (p50 and CPU), the CLI under 1 ms
 * over sbx_run, pool p50 under 1.5 ms and p95 under 3 ms. */
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

/* CPU seconds and minor faults (pages copied or first touched) of process
 * pid from /proc, with its reaped children's when reaped is set; -1 when
 * unknown. */
static int proc_use(long pid, int reaped, double *cpu, double *faults)
{
	char path[64], buf[1024], *p;
	unsigned long long t[4], fl[2];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %llu %llu %*u %*u %llu %llu %llu %llu",
	           &fl[0], &fl[1], &t[0], &t[1], &t[2], &t[3]) != 6)
		return -1;
	*cpu += (double)(t[0] + t[1] + (reaped ? t[2] + t[3] : 0)) / (double)sysconf(_SC_CLK_TCK);
	*faults += (double)(fl[0] + (reaped ? fl[1] : 0));
	return 0;
}

/* CPU seconds and minor faults of the pool's server, its reaped children
 * (its runs and spares) and the children it has now (the spare waiting, a
 * process that forks them) from /proc; -1 when unknown. */
static double server_cpu(sbx_pool *pool, double *faults)
{
	char path[96];
	long pid = sbx_pool_server_pid(pool), kid;
	double cpu = 0;
	FILE *f;

	*faults = 0;
	if (proc_use(pid, 1, &cpu, faults) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	if ((f = fopen(path, "r")) == NULL)
		return cpu;
	while (fscanf(f, "%ld", &kid) == 1)
		proc_use(kid, 0, &cpu, faults);
	fclose(f);
	return cpu;
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

/* Spawn argv with stdin and stdout on /dev/null and wait: 0 when it exited 0. */
static int spawn_wait(char *const argv[])
{
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
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int bare_once(void)
{
	char *argv[] = {"/usr/bin/python3", "-I", "-S", "-c", "pass", NULL};

	return spawn_wait(argv);
}

/* The CLI beside this binary (build/bench/sandbox -> build/llmrepl-sandbox). */
static char cli_path[4096];

static int find_cli(void)
{
	ssize_t n = readlink("/proc/self/exe", cli_path, sizeof(cli_path) - 32);
	char *slash;

	if (n <= 0)
		return -1;
	cli_path[n] = '\0';
	slash = strrchr(cli_path, '/');
	if (slash == NULL)
		return -1;
	strcpy(slash, "/../llmrepl-sandbox");
	return access(cli_path, X_OK);
}

static int cli_once(void)
{
	char *argv[] = {cli_path, "-c", "pass", NULL};

	return spawn_wait(argv);
}

static int check(const sbx_result *r, const char *what)
{
	if (r->end == SBX_END_EXITED && r->exit_code == 0)
		return 0;
	fprintf(stderr, "bench: %s run failed: %s %s\n", what, sbx_end_name(r->end), r->detail);
	return -1;
}

/* What a throughput caller runs: the bare interpreter, cold runs, a pool. */
enum { MODE_BARE, MODE_COLD, MODE_POOL };

typedef struct worker {
	int mode;
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

	if (w->mode == MODE_POOL && sbx_pool_start(&pool, cfg, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench: pool: %s\n", msg);
		w->failed = 1;
		return NULL;
	}
	end = now() + w->seconds;
	while (now() < end) {
		sbx_result r;

		if (w->mode == MODE_BARE) {
			if (bare_once() < 0)
				w->failed = 1;
			else
				w->runs++;
			if (w->failed)
				break;
			continue;
		}
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

static double throughput(int mode, int callers, double seconds)
{
	pthread_t t[2];
	worker w[2];
	long runs = 0;

	for (int i = 0; i < callers; i++) {
		w[i] = (worker){mode, seconds, 0, 0};
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

static double ms(double s)
{
	return s * 1e3;
}

int main(int argc, char **argv)
{
	int n = 100;
	double seconds = 3;
	double *bare, *cold, *cli, *pooled;
	double bare_cpu = 0, cold_cpu = 0, host_cpu = 0, cli_cpu = 0, pool_cpu = 0;
	double server_cpu0 = -1, server_cpu1 = -1, faults0 = 0, faults1 = 0;
	sbx_pool *pool = NULL;
	char msg[256];
	char iso[256];
	double b50, b95, c50, l50, p50;
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
	if (find_cli() < 0) {
		fprintf(stderr, "bench: no llmrepl-sandbox beside this binary\n");
		return 1;
	}
	bare = calloc((size_t)n, sizeof(double));
	cold = calloc((size_t)n, sizeof(double));
	cli = calloc((size_t)n, sizeof(double));
	pooled = calloc((size_t)n, sizeof(double));
	if (!bare || !cold || !cli || !pooled)
		return 1;

	/* Warm the page cache and the library's one-time setup first. */
	for (int i = 0; i < 3; i++) {
		sbx_result r;

		bare_once();
		cli_once();
		sbx_run(&r, cfg, NULL, request, sizeof(request) - 1);
		if (check(&r, "cold") < 0)
			goto out;
		sbx_isolation_str(r.isolation, iso, sizeof(iso));
		sbx_result_free(&r);
	}
	/* The baseline, a cold run and the CLI in turn, so that all three meet
	 * the same machine. CPU: the bare interpreter's and the CLI's from
	 * RUSAGE_CHILDREN; a cold run's is the host side here (RUSAGE_SELF)
	 * plus the init, python and anything else of the run (reaped through
	 * the init) in RUSAGE_CHILDREN. */
	for (int i = 0; i < n; i++) {
		sbx_result r;
		double t0 = now();
		double c0 = cpu_used(RUSAGE_CHILDREN), s0;

		if (bare_once() < 0) {
			fprintf(stderr, "bench: python3 -I -S -c pass failed\n");
			goto out;
		}
		bare[i] = now() - t0;
		bare_cpu += cpu_used(RUSAGE_CHILDREN) - c0;
		c0 = cpu_used(RUSAGE_CHILDREN);
		s0 = cpu_used(RUSAGE_SELF);
		t0 = now();
		sbx_run(&r, cfg, NULL, request, sizeof(request) - 1);
		cold[i] = now() - t0;
		host_cpu += cpu_used(RUSAGE_SELF) - s0;
		cold_cpu += cpu_used(RUSAGE_CHILDREN) - c0 + cpu_used(RUSAGE_SELF) - s0;
		if (check(&r, "cold") < 0)
			goto out;
		sbx_result_free(&r);
		c0 = cpu_used(RUSAGE_CHILDREN);
		t0 = now();
		if (cli_once() < 0) {
			fprintf(stderr, "bench: %s -c pass failed\n", cli_path);
			goto out;
		}
		cli[i] = now() - t0;
		cli_cpu += cpu_used(RUSAGE_CHILDREN) - c0;
	}
	bare_cpu /= n;
	cold_cpu /= n;
	host_cpu /= n;
	cli_cpu /= n;
	if (sbx_pool_start(&pool, cfg, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "bench: pool: %s\n", msg);
		goto out;
	}
	for (int i = -3; i < n; i++) {
		sbx_result r;
		double t0 = now();

		if (i == 0)
			server_cpu0 = server_cpu(pool, &faults0);
		sbx_pool_run(pool, &r, NULL, request, sizeof(request) - 1);
		if (i >= 0) {
			pooled[i] = now() - t0;
			pool_cpu += r.cpu_s;
		}
		if (check(&r, "pool") < 0)
			goto out;
		sbx_result_free(&r);
	}
	server_cpu1 = server_cpu(pool, &faults1);
	sbx_pool_free(pool);
	pool = NULL;
	pool_cpu /= n;

	printf("sandbox bench: %d runs each; isolation: %s\n", n, iso);
	b50 = pct(bare, n, 0.5);
	b95 = pct(bare, n, 0.95);
	c50 = pct(cold, n, 0.5);
	l50 = pct(cli, n, 0.5);
	p50 = pct(pooled, n, 0.5);
	printf("%-36s p50 %6.2f ms          p95 %6.2f ms          CPU %5.2f ms\n",
	       "baseline: python3 -I -S -c pass", ms(b50), ms(b95), ms(bare_cpu));
	printf("%-36s p50 %6.2f ms (%.2fx)  p95 %6.2f ms (%.2fx)  CPU %5.2f ms (%.2fx; host "
	       "%.2f ms)\n",
	       "cold run (sbx_run)", ms(c50), c50 / b50, ms(pct(cold, n, 0.95)),
	       pct(cold, n, 0.95) / b95, ms(cold_cpu), cold_cpu / bare_cpu, ms(host_cpu));
	printf("%-36s p50 %6.2f ms (%.2fx)  p95 %6.2f ms (%.2fx)  CPU %5.2f ms (%.2fx; "
	       "%+.2f ms over sbx_run)\n",
	       "CLI: llmrepl-sandbox -c pass", ms(l50), l50 / b50, ms(pct(cli, n, 0.95)),
	       pct(cli, n, 0.95) / b95, ms(cli_cpu), cli_cpu / bare_cpu, ms(cli_cpu - cold_cpu));
	printf("%-36s p50 %6.2f ms (%.2fx)  p95 %6.2f ms (%.2fx)  CPU %5.2f ms (%.2fx; the "
	       "run's process)  best %.2f ms\n",
	       "pre-forked run (sbx_pool_run)", ms(p50), p50 / b50, ms(pct(pooled, n, 0.95)),
	       pct(pooled, n, 0.95) / b95, ms(pool_cpu), pool_cpu / bare_cpu, ms(pooled[0]));
	if (server_cpu0 >= 0 && server_cpu1 >= 0)
		printf("%-36s CPU %5.2f ms per run (%.2fx; the server, its forks and the runs, "
		       "from /proc at 1/%ld s), %.0f minor faults per run\n",
		       "pre-forked run, the whole pool", ms((server_cpu1 - server_cpu0) / n),
		       (server_cpu1 - server_cpu0) / n / bare_cpu, sysconf(_SC_CLK_TCK),
		       (faults1 - faults0) / n);
	printf("%-36s cold %+.2f ms, CLI %+.2f ms at p50\n", "over the bare interpreter",
	       ms(c50 - b50), ms(l50 - b50));
	for (int callers = 1; callers <= 2; callers++) {
		double rps[3];

		for (int mode = MODE_BARE; mode <= MODE_POOL; mode++)
			if ((rps[mode] = throughput(mode, callers, seconds)) <= 0)
				goto out;
		printf("%-36s bare %6.1f/s  cold %6.1f/s (%.2fx)  pool %6.1f/s (%.2fx)\n",
		       callers == 1 ? "runs per second, 1 caller" : "runs per second, 2 callers",
		       rps[MODE_BARE], rps[MODE_COLD], rps[MODE_COLD] / rps[MODE_BARE],
		       rps[MODE_POOL], rps[MODE_POOL] / rps[MODE_BARE]);
	}
	rc = 0;
out:
	sbx_pool_free(pool);
	free(bare);
	free(cold);
	free(cli);
	free(pooled);
	return rc;
}
