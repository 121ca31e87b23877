/* sbx_trace.c - the per-run timing trace (see sbx_trace.h). */
#include "sbx_trace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int trace_on;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

static void trace_read_env(void)
{
	const char *v = getenv("LLMREPL_SBX_TRACE");

	trace_on = v != NULL && strcmp(v, "1") == 0;
}

int sbx_trace_enabled(void)
{
	pthread_once(&trace_once, trace_read_env);
	return trace_on;
}

long long sbx_trace_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sbx_trace_begin(sbx_trace *t, const char *kind)
{
	t->on = sbx_trace_enabled();
	t->n = 0;
	t->kind = kind;
	t->nafter = 0;
	t->t0_ns = t->on ? sbx_trace_ns() : 0;
}

void sbx_trace_at(sbx_trace *t, const char *name, size_t len, long long ns)
{
	if (!t->on || t->n >= SBX_TRACE_MAX)
		return;
	if (len >= SBX_TRACE_NAME)
		len = SBX_TRACE_NAME - 1;
	memcpy(t->mark[t->n].name, name, len);
	t->mark[t->n].name[len] = '\0';
	t->mark[t->n].ns = ns;
	t->n++;
}

void sbx_trace_mark(sbx_trace *t, const char *name)
{
	if (t->on)
		sbx_trace_at(t, name, strlen(name), sbx_trace_ns());
}

void sbx_trace_words(sbx_trace *t, const char *words)
{
	const char *p = words;

	if (p == NULL)
		return;
	while (t->on && *p) {
		const char *eq, *end;

		while (*p == ' ')
			p++;
		end = strchr(p, ' ');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && eq > p + 1 && *p == '+' && t->nafter < 8) {
			size_t len = (size_t)(eq - p - 1) < SBX_TRACE_NAME - 1
			                 ? (size_t)(eq - p - 1)
			                 : SBX_TRACE_NAME - 1;

			memcpy(t->after[t->nafter].name, p + 1, len);
			t->after[t->nafter].name[len] = '\0';
			t->after[t->nafter++].ns = strtoll(eq + 1, NULL, 10);
		} else if (eq != NULL && eq > p) {
			sbx_trace_at(t, p, (size_t)(eq - p), strtoll(eq + 1, NULL, 10));
		}
		p = end;
	}
}

static int by_time(const void *a, const void *b)
{
	const long long x = ((const sbx_trace_point *)a)->ns;
	const long long y = ((const sbx_trace_point *)b)->ns;

	return x < y ? -1 : x > y;
}

void sbx_trace_end(sbx_trace *t)
{
	char line[2048];
	long long prev = t->t0_ns;
	size_t at;

	if (!t->on)
		return;
	qsort(t->mark, (size_t)t->n, sizeof(t->mark[0]), by_time);
	at = (size_t)snprintf(line, sizeof(line), "sbx-trace %s total=%lld", t->kind,
	                      (sbx_trace_ns() - t->t0_ns) / 1000);
	for (int i = 0; i < t->n && at < sizeof(line); i++) {
		at += (size_t)snprintf(line + at, sizeof(line) - at, " %s=%lld", t->mark[i].name,
		                       (t->mark[i].ns - prev) / 1000);
		prev = t->mark[i].ns;
	}
	for (int i = 0; i < t->nafter && at < sizeof(line); i++)
		at += (size_t)snprintf(line + at, sizeof(line) - at, " after.%s=%lld",
		                       t->after[i].name, t->after[i].ns);
	fprintf(stderr, "%s\n", line);
	t->on = 0;
}
