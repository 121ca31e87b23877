/* trace.c - the per-job timing trace (see trace.h). */
#include "trace.h"

#include "clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX 32

typedef struct trace {
	int on;
	int n;
	const char *what;
	long long t0_ns;
	const char *name[TRACE_MAX];
	long long ns[TRACE_MAX];
} trace;

static int enabled;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local trace cur;

static void read_env(void)
{
	const char *v = getenv("LLMREPL_JOB_TRACE");

	enabled = v != NULL && strcmp(v, "1") == 0;
}

int lr_trace_enabled(void)
{
	pthread_once(&once, read_env);
	return enabled;
}

void lr_trace_begin(const char *what)
{
	cur.on = lr_trace_enabled();
	cur.n = 0;
	cur.what = what;
	cur.t0_ns = cur.on ? lr_now_ns() : 0;
}

void lr_trace_mark(const char *name)
{
	if (!cur.on || cur.n >= TRACE_MAX)
		return;
	cur.name[cur.n] = name;
	cur.ns[cur.n++] = lr_now_ns();
}

void lr_trace_end(const char *what)
{
	char line[1024];
	long long prev = cur.t0_ns;
	size_t at;

	if (!cur.on)
		return;
	at = (size_t)snprintf(line, sizeof(line), "job-trace %s total=%lld", what ? what : cur.what,
	                      (lr_now_ns() - cur.t0_ns) / 1000);
	for (int i = 0; i < cur.n && at < sizeof(line); i++) {
		at += (size_t)snprintf(line + at, sizeof(line) - at, " %s=%lld", cur.name[i],
		                       (cur.ns[i] - prev) / 1000);
		prev = cur.ns[i];
	}
	fprintf(stderr, "%s\n", line);
	cur.on = 0;
}

void *lr_trace_hold(void)
{
	trace *t;

	if (!cur.on)
		return NULL;
	t = malloc(sizeof(*t));
	if (t != NULL)
		*t = cur;
	cur.on = 0;
	return t;
}

void lr_trace_resume(void *held)
{
	if (held == NULL) {
		cur.on = 0;
		return;
	}
	cur = *(trace *)held;
	free(held);
}
