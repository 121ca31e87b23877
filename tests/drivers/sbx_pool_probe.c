/* sbx_pool_probe - drive a sandbox pool through its failure paths.
 *
 *   sbx_pool_probe killed   run, SIGKILL the server from outside, run again
 *   sbx_pool_probe stopped  SIGSTOP the server, run (times out, the server
 *                           cannot report it), run again
 *   sbx_pool_probe limits   80 MB in two children under --memory 256, 64 (the
 *                           run's cgroup ends it memory), 256 again: one server
 *
 * Prints one line per step: "<step> <end> <exit_code> <server pid> <detail>",
 * and at the end "gone <pid>..." for every server pid that no longer exists.
 * Exit status 0 when every step behaved as expected. */
#include "sbx.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char request[] = "{\"mode\": \"exec\", \"code\": \"print('ok')\"}";
/* Two children of 40 MB each: within each one's address space, over a
 * 64 MB run (the run's cgroup). */
static const char big[] =
    "{\"mode\": \"exec\", \"code\": \"import os, time\\nfor i in range(2):\\n"
    "    if os.fork() == 0:\\n        b = b'x' * (40 << 20)\\n        time.sleep(1)\\n"
    "        os._exit(0)\\nos.wait()\\nos.wait()\\nprint('ok')\"}";

static int step_mem(sbx_pool *pool, const char *name, double timeout, long memory_mb,
                    const char *req, sbx_end want)
{
	sbx_limits lim;
	sbx_result r;
	int ok;

	sbx_limits_default(&lim);
	lim.timeout_s = timeout;
	if (memory_mb)
		lim.memory_mb = memory_mb;
	sbx_pool_run(pool, &r, &lim, req, strlen(req));
	ok = r.end == want && (want != SBX_END_EXITED || strcmp(r.out, "ok\n") == 0);
	printf("%s %s %d %ld %s\n", name, sbx_end_name(r.end), r.exit_code,
	       sbx_pool_server_pid(pool), r.detail);
	fflush(stdout);
	sbx_result_free(&r);
	return ok ? 0 : -1;
}

static int step(sbx_pool *pool, const char *name, double timeout, sbx_end want)
{
	return step_mem(pool, name, timeout, 0, request, want);
}

static int limits(sbx_pool *pool)
{
	long pid;
	int rc = 0;

	rc |= step_mem(pool, "roomy", 10, 256, big, SBX_END_EXITED);
	pid = sbx_pool_server_pid(pool);
	rc |= step_mem(pool, "tight", 10, 64, big, SBX_END_MEMORY);
	rc |= step_mem(pool, "roomy", 10, 256, big, SBX_END_EXITED);
	if (sbx_pool_server_pid(pool) != pid || pid <= 0)
		rc = -1;
	sbx_pool_free(pool);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	sbx_pool *pool = NULL;
	char msg[512];
	long pids[3] = {-1, -1, -1};
	int rc = 0;
	int stopped = argc > 1 && strcmp(argv[1], "stopped") == 0;
	int lims = argc > 1 && strcmp(argv[1], "limits") == 0;

	if (argc != 2 || (!stopped && !lims && strcmp(argv[1], "killed") != 0)) {
		fprintf(stderr, "usage: %s killed|stopped|limits\n", argv[0]);
		return 2;
	}
	if (sbx_pool_start(&pool, NULL, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "pool: %s\n", msg);
		return 3;
	}
	if (lims)
		return limits(pool);
	rc |= step(pool, "first", 5, SBX_END_EXITED);
	pids[0] = sbx_pool_server_pid(pool);
	if (kill((pid_t)pids[0], stopped ? SIGSTOP : SIGKILL) < 0)
		rc = -1;
	if (stopped) {
		rc |= step(pool, "stuck", 0.5, SBX_END_TIMEOUT);
	} else {
		/* Let the kill land before the next run looks. */
		usleep(100 * 1000);
	}
	rc |= step(pool, "after", 5, SBX_END_EXITED);
	pids[1] = sbx_pool_server_pid(pool);
	if (pids[1] == pids[0] || pids[1] <= 0)
		rc = -1;
	sbx_pool_free(pool);
	printf("gone");
	for (int i = 0; i < 2; i++) {
		if (kill((pid_t)pids[i], 0) == 0 || errno != ESRCH)
			rc = -1;
		else
			printf(" %ld", pids[i]);
	}
	printf("\n");
	return rc ? 1 : 0;
}
