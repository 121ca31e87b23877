/* sbx_trace.h - a per-run timing trace of the sandbox's phases.
 *
 * Always compiled, off unless LLMREPL_SBX_TRACE=1 is in the environment of
 * the process that uses the library. Then each run prints one line to
 * stderr:
 *   sbx-trace <kind> total=<us> <phase>=<us> ...
 * where each phase is the time from the previous mark to its own, in the
 * order they happened, whichever process made them: the host (h.*), the
 * sandbox's init or server before exec (c.*), the interpreter (py.*) and the
 * pool's server (s.*). Marks made inside the sandbox travel as absolute
 * CLOCK_MONOTONIC times (one clock for every process: no time namespace).
 * The interpreter sends its marks before any code of the run is executed and
 * then closes the channel, so tracing gives the code nothing to write to. */
#ifndef LLMREPL_SBX_TRACE_H
#define LLMREPL_SBX_TRACE_H

#define SBX_TRACE_MAX  40
#define SBX_TRACE_NAME 16

#include <stddef.h>

typedef struct sbx_trace_point {
	char name[SBX_TRACE_NAME];
	long long ns;
} sbx_trace_point;

typedef struct sbx_trace {
	int on;
	int n;
	const char *kind;
	long long t0_ns;
	sbx_trace_point mark[SBX_TRACE_MAX];
	int nafter;
	sbx_trace_point after[8]; /* durations (us) of work done after the
	                             previous run's answer (the pool's wipe) */
} sbx_trace;

int sbx_trace_enabled(void);  /* LLMREPL_SBX_TRACE=1, read once */
long long sbx_trace_ns(void); /* CLOCK_MONOTONIC in ns */

/* Start a trace (kind: "cold", "pool", "held"; "pool-end": the end of a pool's
 * run that was judged at its answer, reaped before the next run, timed from
 * that answer); a no-op when tracing is off. */
void sbx_trace_begin(sbx_trace *t, const char *kind);
void sbx_trace_mark(sbx_trace *t, const char *name);                         /* now */
void sbx_trace_at(sbx_trace *t, const char *name, size_t len, long long ns); /* a given time */
/* "name=ns name=ns ..." (as the pool's server sends them); "+name=us" is a
 * duration of work done between the previous run and this one. */
void sbx_trace_words(sbx_trace *t, const char *words);
/* Print the line to stderr and stop. */
void sbx_trace_end(sbx_trace *t);

#endif
