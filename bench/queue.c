/* bench/queue - what the job queue costs, beside the same evaluations done
 * directly in the sandbox, all measured in this one run on this machine.
 *
 *   throughput  evaluate jobs per second through the whole path (redis-cli
 *               style XADD -> dispatcher -> worker -> sandbox -> result)
 *               with 1, 2 and 4 workers, beside eval_run() called directly
 *               on 1, 2 and 4 threads (each its own pre-forked pool, with
 *               the workers' settings: eval_sandbox_config)
 *   latency     submit-to-done p50/p95 of a trivial job (one worker, one job
 *               at a time, the submitter blocked on the job's events stream)
 *               beside the same evaluation called directly
 * Target: the queue adds under 5 ms to a job at p50.
 *
 * It starts its own redis-server (no persistence) on a free loopback port and
 * the dispatcher and workers from the build directory it lives in, and stops
 * them all before it exits.
 *
 *   queue [--jobs N] [--rounds N] [--runs N] [--kept N] [--redis-server PATH]
 * Throughput runs --rounds times (the order of the two sides alternating;
 * 0: latency only); both sides warm up untimed (three evaluations per thread
 * or worker). --kept N first runs N trivial jobs through the queue of the
 * latency figure and keeps them finished, as a system that keeps its results
 * does (the dispatcher's upkeep sweeps them). */
#include "clock.h"
#include "eval.h"
#include "keys.h"
#include "queue.h"
#include "queue_lua.h"
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char job_code[] = "def add(a, b):\n    return a + b\n";
static const char job_tests[] = "assert add(1, 2) == 3\nassert add(-1, 1) == 0\n";
static const char job_spec[] = "{\"kind\": \"evaluate\", \"code\": \"def add(a, b):\\n    return "
                               "a + b\\n\", \"tests\": [\"assert add(1, 2) == 3\", \"assert "
                               "add(-1, 1) == 0\"], \"static_checks\": false}";
static const char trivial_spec[] = "{\"kind\": \"evaluate\", \"code\": \"x = 1\", "
                                   "\"static_checks\": false}";

static char bindir[4096];
static char redis_url[64];
static int redis_port;
static pid_t redis_pid = -1;
static char redis_dir[] = "/tmp/llmrepl-bench-XXXXXX";

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[(int)(p * (n - 1) + 0.5)];
}

static void die(const char *msg)
{
	fprintf(stderr, "bench/queue: %s\n", msg);
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
	}
	exit(1);
}

static int free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die("no free port");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(char *const argv[], char *const env[], int quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static void stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static lr_redis *connect_redis(void)
{
	lr_redis_opts o = {0};
	lr_redis *r = NULL;
	lr_err err;

	o.url = redis_url;
	o.command_timeout_ms = 30000;
	if (lr_redis_open(&r, &o, &err) < 0)
		return NULL;
	return r;
}

static void start_redis(const char *server)
{
	char port[16];
	char *argv[] = {(char *)server,
	                "--port",
	                port,
	                "--bind",
	                "127.0.0.1",
	                "--dir",
	                redis_dir,
	                "--save",
	                "",
	                "--appendonly",
	                "no",
	                "--protected-mode",
	                "yes",
	                "--loglevel",
	                "warning",
	                NULL};
	lr_redis *r = NULL;

	if (mkdtemp(redis_dir) == NULL)
		die("mkdtemp failed");
	redis_port = free_port();
	snprintf(port, sizeof(port), "%d", redis_port);
	snprintf(redis_url, sizeof(redis_url), "redis://127.0.0.1:%d", redis_port);
	redis_pid = spawn(argv, environ, 1);
	if (redis_pid < 0)
		die("cannot start redis-server");
	for (int i = 0; i < 200 && r == NULL; i++) {
		lr_sleep_ms(25);
		r = connect_redis();
	}
	if (r == NULL)
		die("redis-server did not come up");
	lr_redis_close(r);
}

/* Environment for our binaries: the parent's plus these settings. */
static char **child_env(const char *prefix, char *store, size_t storelen)
{
	static char *env[256];
	size_t n = 0;
	size_t used = 0;

	for (char **e = environ; *e && n < 240; e++)
		if (strncmp(*e, "LLMREPL_", 8) != 0)
			env[n++] = *e;
	used +=
	    (size_t)snprintf(store + used, storelen - used, "LLMREPL_REDIS_URL=%s", redis_url) + 1;
	env[n++] = store;
	env[n++] = store + used;
	used += (size_t)snprintf(store + used, storelen - used, "LLMREPL_PREFIX=%s", prefix) + 1;
	env[n++] = store + used;
	used += (size_t)snprintf(store + used, storelen - used, "LLMREPL_LOG_LEVEL=warn") + 1;
	env[n] = NULL;
	return env;
}

typedef struct fleet {
	pid_t dispatcher;
	pid_t workers[8];
	int nworkers;
} fleet;

static void fleet_start(fleet *f, const char *prefix, int nworkers)
{
	char store[1024];
	char **env = child_env(prefix, store, sizeof(store));
	char disp[4200];
	char work[4200];
	char *dargv[] = {disp, NULL};
	char *wargv[] = {work, NULL};

	snprintf(disp, sizeof(disp), "%s/llmrepl-dispatcher", bindir);
	snprintf(work, sizeof(work), "%s/llmrepl-worker", bindir);
	memset(f, 0, sizeof(*f));
	f->dispatcher = spawn(dargv, env, 0);
	for (int i = 0; i < nworkers; i++)
		f->workers[i] = spawn(wargv, env, 0);
	f->nworkers = nworkers;
	if (f->dispatcher < 0)
		die("cannot start the dispatcher");
}

static void fleet_stop(fleet *f)
{
	for (int i = 0; i < f->nworkers; i++)
		stop(f->workers[i]);
	stop(f->dispatcher);
}

static long long stat_done(lr_redis *r, const char *prefix)
{
	redisReply *rep = NULL;
	long long v = 0;
	lr_err err;

	if (lr_redis_cmd(r, &rep, &err, "HGET %sstats total:done", prefix) < 0)
		die(err.msg);
	if (rep->type == REDIS_REPLY_STRING)
		v = strtoll(rep->str, NULL, 10);
	freeReplyObject(rep);
	return v;
}

static long long count_workers(lr_redis *r, const char *prefix)
{
	redisReply *rep = NULL;
	long long v = 0;
	lr_err err;

	if (lr_redis_cmd(r, &rep, &err, "ZCARD %sworkers", prefix) < 0)
		die(err.msg);
	v = rep->integer;
	freeReplyObject(rep);
	return v;
}

/* Jobs per second through the queue with n workers. */
/* Pipelined XADDs on a raw context, as a client submitting a batch; waits
 * until `upto` jobs under the prefix are done. */
static void submit_and_wait(redisContext *c, lr_redis *r, const char *prefix, int jobs,
                            long long upto)
{
	double t0 = lr_now_s();

	for (int i = 0; i < jobs; i++)
		redisAppendCommand(c, "XADD %srequests * spec %s", prefix, job_spec);
	for (int i = 0; i < jobs; i++) {
		void *rep = NULL;

		if (redisGetReply(c, &rep) != REDIS_OK)
			die("XADD failed");
		freeReplyObject(rep);
	}
	while (stat_done(r, prefix) < upto) {
		if (lr_now_s() - t0 > 600)
			die("jobs did not finish in 10 minutes");
		/* 10 ms: under 1 % of a round, and a poll that takes no
		 * noticeable share of the two CPUs the workers need. */
		lr_sleep_ms(10);
	}
}

static double queue_throughput(int nworkers, int jobs, int round)
{
	char prefix[32];
	lr_redis *r = connect_redis();
	redisContext *c;
	fleet f;
	double t0, t1;

	snprintf(prefix, sizeof(prefix), "bq%d.%d:", nworkers, round);
	if (r == NULL)
		die("cannot connect to redis");
	fleet_start(&f, prefix, nworkers);
	/* Wait until every worker is registered and its sandbox pool is up. */
	for (int i = 0; i < 400 && count_workers(r, prefix) < nworkers; i++)
		lr_sleep_ms(25);
	lr_sleep_ms(300);
	c = redisConnect("127.0.0.1", redis_port);
	if (c == NULL || c->err)
		die("cannot connect to redis");
	/* Warm up as the direct side does: three jobs per worker, untimed. */
	submit_and_wait(c, r, prefix, 3 * nworkers, 3 * nworkers);
	t0 = lr_now_s();
	submit_and_wait(c, r, prefix, jobs, 3LL * nworkers + jobs);
	t1 = lr_now_s();
	redisFree(c);
	fleet_stop(&f);
	lr_redis_close(r);
	return jobs / (t1 - t0);
}

typedef struct direct_arg {
	int runs;
	int failed;
	const char *code;
	const char *tests;
	pthread_barrier_t *ready; /* all pools up: start the clock */
} direct_arg;

static void fill_request(eval_request *req, const char *code, const char *tests)
{
	memset(req, 0, sizeof(*req));
	req->code = code;
	req->tests = tests;
	sbx_limits_default(&req->limits);
	/* What the dispatcher's defaults make of the spec. */
	req->limits.timeout_s = 10;
	req->limits.memory_mb = 256;
	req->static_checks = 0;
}

/* One evaluation, as the worker's evaluate kind does it. */
static int direct_once(sbx_pool *pool, const sbx_config *cfg, const eval_request *req)
{
	eval_outcome out;
	lr_err err;
	int ok = eval_run(&out, pool, cfg, req, &err) == 0 && out.passed;

	eval_outcome_free(&out);
	return ok;
}

static void *direct_thread(void *p)
{
	direct_arg *a = p;
	sbx_config cfg;
	sbx_pool *pool = NULL;
	char msg[256];
	eval_request req;
	int up;

	/* The workers' settings (the judge/candidate split unless
	 * LLMREPL_SPLIT=0): the same evaluation on both sides. */
	sbx_config_default(&cfg);
	eval_sandbox_config(&cfg);
	up = sbx_pool_start(&pool, &cfg, msg, sizeof(msg)) == 0;
	if (!up)
		fprintf(stderr, "bench/queue: pool: %s\n", msg);
	fill_request(&req, a->code, a->tests);
	for (int i = 0; up && i < 3; i++) /* warm up, as a worker's first jobs do */
		direct_once(pool, &cfg, &req);
	pthread_barrier_wait(a->ready);
	for (int i = 0; i < a->runs; i++)
		if (!up || !direct_once(pool, &cfg, &req))
			a->failed++;
	sbx_pool_free(pool);
	return NULL;
}

/* Jobs per second evaluated directly on n threads. */
static double direct_throughput(int nthreads, int jobs)
{
	pthread_t th[8];
	direct_arg args[8];
	pthread_barrier_t ready;
	double t0, t1;
	int failed = 0;

	pthread_barrier_init(&ready, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		args[i] = (direct_arg){jobs / nthreads + (i < jobs % nthreads), 0, job_code,
		                       job_tests, &ready};
		pthread_create(&th[i], NULL, direct_thread, &args[i]);
	}
	pthread_barrier_wait(&ready);
	t0 = lr_now_s();
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed += args[i].failed;
	}
	t1 = lr_now_s();
	pthread_barrier_destroy(&ready);
	if (failed)
		die("direct evaluations failed");
	return jobs / (t1 - t0);
}

/* Submit one trivial job and wait for its final event; seconds. */
static double queue_once(lr_redis *r, const char *prefix)
{
	redisReply *rep = NULL;
	char id[64];
	char last[64] = "0-0";
	int done = 0;
	lr_err err;
	double t0 = lr_now_s();

	if (lr_redis_cmd(r, &rep, &err, "XADD %srequests * spec %s", prefix, trivial_spec) < 0)
		die(err.msg);
	snprintf(id, sizeof(id), "%s", rep->str);
	freeReplyObject(rep);
	while (!done) {
		if (lr_redis_cmd(r, &rep, &err, "XREAD BLOCK 10000 STREAMS %sjob:%s:events %s",
		                 prefix, id, last) < 0)
			die(err.msg);
		if (rep->type != REDIS_REPLY_ARRAY)
			die("a job took over 10 s");
		for (size_t j = 0; j < rep->element[0]->element[1]->elements; j++) {
			const redisReply *e = rep->element[0]->element[1]->element[j];
			const redisReply *type = lr_reply_field(e->element[1], "type");
			lr_q_state st = lr_q_state_parse(type ? type->str : NULL);

			snprintf(last, sizeof(last), "%s", e->element[0]->str);
			if (st == LR_QS_DONE)
				done = 1;
			else if (st == LR_QS_REJECTED)
				die("the trivial job was rejected");
		}
		freeReplyObject(rep);
	}
	return lr_now_s() - t0;
}

/* Commands that held Redis for 0.5 ms or more during the latency runs (the
 * slow log): the dispatcher's repair sweep's script calls and the rest, how
 * many and the longest of each. */
static long slow_n[2];
static long long slow_max_us[2];

static void slowlog(lr_redis *r, int start)
{
	redisReply *rep = NULL;
	char sha[41] = "";
	lr_err err;

	if (start) {
		if (lr_redis_cmd(r, &rep, &err, "CONFIG SET slowlog-log-slower-than 500") < 0)
			die(err.msg);
		freeReplyObject(rep);
		if (lr_redis_cmd(r, &rep, &err, "CONFIG SET slowlog-max-len 10000") < 0)
			die(err.msg);
		freeReplyObject(rep);
		if (lr_redis_cmd(r, &rep, &err, "SLOWLOG RESET") < 0)
			die(err.msg);
		freeReplyObject(rep);
		return;
	}
	if (lr_redis_cmd(r, &rep, &err, "SCRIPT LOAD %s", lr_lua_repair.src) < 0)
		die(err.msg);
	if (rep->type == REDIS_REPLY_STRING)
		snprintf(sha, sizeof(sha), "%s", rep->str);
	freeReplyObject(rep);
	if (lr_redis_cmd(r, &rep, &err, "SLOWLOG GET 10000") < 0)
		die(err.msg);
	for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		const redisReply *cmd;
		int k;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 4)
			continue;
		cmd = e->element[3];
		k = cmd->type == REDIS_REPLY_ARRAY && cmd->elements > 1 &&
		    cmd->element[1]->type == REDIS_REPLY_STRING &&
		    strcmp(cmd->element[1]->str, sha) == 0;
		slow_n[k]++;
		if (e->element[2]->integer > slow_max_us[k])
			slow_max_us[k] = e->element[2]->integer;
	}
	freeReplyObject(rep);
}

/* The trivial job through the queue (one worker) and directly (a pool in
 * this process), alternating, so both see the same machine. */
static void latency(int runs, int kept, double *ql, double *dl)
{
	const char *prefix = "bql:";
	lr_redis *r = connect_redis();
	sbx_config cfg;
	sbx_pool *pool = NULL;
	eval_request req;
	char msg[256];
	fleet f;

	if (r == NULL)
		die("cannot connect to redis");
	sbx_config_default(&cfg);
	eval_sandbox_config(&cfg);
	if (sbx_pool_start(&pool, &cfg, msg, sizeof(msg)) < 0)
		die(msg);
	fill_request(&req, "x = 1", NULL);
	fleet_start(&f, prefix, 1);
	for (int i = 0; i < 400 && count_workers(r, prefix) < 1; i++)
		lr_sleep_ms(25);
	if (kept > 0) {
		redisContext *c = redisConnect("127.0.0.1", redis_port);

		if (c == NULL || c->err)
			die("cannot connect to redis");
		submit_and_wait(c, r, prefix, kept, kept);
		redisFree(c);
	}
	slowlog(r, 1);
	for (int i = -20; i < runs; i++) { /* 20 warm-up rounds */
		double d, q, t0;

		/* Alternate which goes first: each one's pool forks its next
		 * child right after a run, which would otherwise always land
		 * on the same side. */
		if (i & 1)
			q = queue_once(r, prefix);
		t0 = lr_now_s();
		if (!direct_once(pool, &cfg, &req))
			die("a direct evaluation failed");
		d = lr_now_s() - t0;
		if (!(i & 1))
			q = queue_once(r, prefix);
		if (i >= 0) {
			dl[i] = d;
			ql[i] = q;
		}
	}
	slowlog(r, 0);
	fleet_stop(&f);
	sbx_pool_free(pool);
	lr_redis_close(r);
}

/* Direct and queue throughput with 1, 2 and 4, `rounds` times, the order
 * alternating by round; the median jobs/s of each side and the median and
 * spread of the rounds' ratios (queue over direct, same round). */
static void throughput(int jobs, int rounds)
{
	static const int ns[] = {1, 2, 4};
	double dt[3][16], qt[3][16], ratio[3][16];
	int met = 1;

	for (int k = 0; k < rounds; k++)
		for (int i = 0; i < 3; i++) {
			if (k & 1)
				qt[i][k] = queue_throughput(ns[i], jobs, k);
			dt[i][k] = direct_throughput(ns[i], jobs);
			if (!(k & 1))
				qt[i][k] = queue_throughput(ns[i], jobs, k);
			ratio[i][k] = qt[i][k] / dt[i][k];
		}
	printf("\nthroughput (jobs/s, median of %d rounds)   direct eval_run   through the queue"
	       "   ratio (median, rounds' min-max)\n",
	       rounds);
	for (int i = 0; i < 3; i++) {
		double r50 = pct(ratio[i], rounds, 0.5);

		met &= r50 >= 0.9;
		printf("  %d worker%s                          %10.1f        %10.1f        %5.2f"
		       " (%.2f-%.2f)\n",
		       ns[i], ns[i] > 1 ? "s" : " ", pct(dt[i], rounds, 0.5),
		       pct(qt[i], rounds, 0.5), r50, pct(ratio[i], rounds, 0.0),
		       pct(ratio[i], rounds, 1.0));
	}
	printf("  target: through the queue >= 0.9x direct with 1, 2 and 4 workers: %s\n",
	       met ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
	const char *server = "/usr/bin/redis-server";
	int jobs = 300;
	int runs = 300;
	int rounds = 3;
	int kept = 0;
	double *ql, *dl;
	char *slash;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--jobs") == 0)
			jobs = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--kept") == 0)
			kept = (int)strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--redis-server") == 0)
			server = argv[i + 1];
	}
	if (runs < 10)
		runs = 10;
	if (jobs < 10)
		jobs = 10;
	if (rounds < 0 || rounds > 16)
		rounds = rounds < 0 ? 0 : 16;
	if (kept < 0)
		kept = 0;
	if (realpath(argv[0], bindir) == NULL)
		die("cannot find myself");
	/* build/bench/queue -> build */
	for (int k = 0; k < 2 && (slash = strrchr(bindir, '/')) != NULL; k++)
		*slash = '\0';
	signal(SIGPIPE, SIG_IGN);
	start_redis(server);

	printf("bench/queue: %d evaluate jobs per round (a function and two asserts, static checks "
	       "off), on %ld CPUs\n",
	       jobs, sysconf(_SC_NPROCESSORS_ONLN));
	if (rounds > 0)
		throughput(jobs, rounds);

	ql = calloc((size_t)runs, sizeof(double));
	dl = calloc((size_t)runs, sizeof(double));
	if (ql == NULL || dl == NULL)
		die("out of memory");
	latency(runs, kept, ql, dl);
	{
		double *diff = calloc((size_t)runs, sizeof(double));
		double d[3], q[3], x[3];
		static const double at[3] = {0.5, 0.95, 0.99};

		if (diff == NULL)
			die("out of memory");
		for (int i = 0; i < runs; i++)
			diff[i] = ql[i] - dl[i];
		for (int k = 0; k < 3; k++) {
			x[k] = pct(diff, runs, at[k]) * 1e3;
			d[k] = pct(dl, runs, at[k]) * 1e3;
			q[k] = pct(ql, runs, at[k]) * 1e3;
		}
		free(diff);
		printf("\nlatency of a trivial job, %d alternating runs, %d finished jobs kept"
		       "   p50        p95        p99\n",
		       runs, kept);
		printf("  direct eval_run                             %7.2f ms %7.2f ms %7.2f ms\n",
		       d[0], d[1], d[2]);
		printf("  submit to done through the queue            %7.2f ms %7.2f ms %7.2f ms\n",
		       q[0], q[1], q[2]);
		printf("  the queue adds (paired, run by run)         %7.2f ms %7.2f ms %7.2f ms"
		       "   (target: under 5 ms at p50: %s)\n",
		       x[0], x[1], x[2], x[0] < 5 ? "met" : "MISSED");
		printf("  meanwhile, calls that held Redis >= 0.5 ms: the repair sweep's %ld (the "
		       "longest %.2f ms), others %ld (%.2f ms)\n",
		       slow_n[1], slow_max_us[1] / 1e3, slow_n[0], slow_max_us[0] / 1e3);
	}
	free(ql);
	free(dl);
	kill(redis_pid, SIGTERM);
	waitpid(redis_pid, NULL, 0);
	{
		char rdb[sizeof(redis_dir) + 16];

		/* No persistence was configured; remove a dump Redis may still
		 * have written on shutdown, then the directory. */
		snprintf(rdb, sizeof(rdb), "%s/dump.rdb", redis_dir);
		unlink(rdb);
		if (rmdir(redis_dir) < 0)
			fprintf(stderr, "bench/queue: could not remove %s\n", redis_dir);
	}
	return 0;
}
