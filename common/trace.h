/* trace.h - a per-job timing trace of the queue's processes.
 *
 * Always compiled, off unless LLMREPL_JOB_TRACE=1 is in the environment of
 * the process. Then each traced piece of work (a worker's job, a
 * dispatcher's request) prints one line to stderr when it ends:
 *   job-trace <what> total=<us> <phase>=<us> ...
 * where each phase is the time from the previous mark (or the start) to its
 * own, in the order they were made. The trace is the calling thread's: marks
 * made on a thread with no trace begun are dropped, so code shared with
 * untraced paths may mark freely. bench/sbx_trace.py gives the medians. */
#ifndef LLMREPL_TRACE_H
#define LLMREPL_TRACE_H

int lr_trace_enabled(void); /* LLMREPL_JOB_TRACE=1, read once */

/* Start this thread's trace of `what` (a string that outlives the trace);
 * a no-op when tracing is off. A trace already begun is dropped. */
void lr_trace_begin(const char *what);
/* The phase that ends now; `name` must outlive the trace (a literal). */
void lr_trace_mark(const char *name);
/* Print the line (its kind now `what`, when not NULL: the job's kind is
 * known only after the claim) and stop. */
void lr_trace_end(const char *what);
/* Take this thread's trace away (NULL when none is on), to be carried on
 * later, on this or another thread, by lr_trace_resume (which frees it),
 * or dropped with free(): the dispatcher's requests, prepared one by one,
 * recorded together. */
void *lr_trace_hold(void);
void lr_trace_resume(void *held); /* accepts NULL: no trace then */

#endif
