/* eval_static.h - the static service: pyflakes, bandit and radon over the
 * code under test, in a held sandboxed interpreter of their own.
 *
 * One per process, shared by every evaluation (one call at a time), started
 * on first use. The tools are imported there once and never forked from, so
 * an analysis costs what the tools cost (in a forked judge, copy-on-write
 * faults on the pages the tools touch cost several times that). It keeps a
 * cache (llmrepl_static.Cache): an answer keyed by the SHA-256 of the
 * analysers' versions, the settings and the code, so code seen before is not
 * analysed again and no answer ever serves another code; at most 4,096
 * answers and 32 MB, least recently used dropped first, gone with the
 * process. Nothing of a candidate's runs there or can reach it: its findings
 * are as far from the code under test as the host's own counters.
 *
 * LLMREPL_STATIC_SERVICE=0 in the environment turns it off: the judge then
 * runs the tools itself (importing them first: the pool's server does not
 * hold them), as it does when the service cannot start. */
#ifndef LLMREPL_EVAL_STATIC_H
#define LLMREPL_EVAL_STATIC_H

#include "sbx.h"

#include <json-c/json.h>
#include <pthread.h>

/* The findings of `code` as the harness's `static` object (with "cached":
 * true when they came from the cache) in *out, and the service's time in
 * *secs: 0. 1 when the code does not parse (the harness reports that, with
 * no static checks). -1 when the service is off or unavailable: the caller
 * lets the judge run the tools. cfg (NULL: the defaults) is the sandbox's
 * settings the service starts with, without the candidate factory. */
int eval_static_run(const sbx_config *cfg, const char *code, double budget_s, json_object **out,
                    double *secs);

/* The same for code that runs after a session's cells: the names they
 * define are known to the checks (as the judge's own checks know them). */
int eval_static_run_cells(const sbx_config *cfg, const char *code, const char *const *cells,
                          size_t ncells, double budget_s, json_object **out, double *secs);

/* Whether the service is on and has answered in this process (then
 * eval_static_begin and eval_static_ask reach it). */
int eval_static_up(void);

/* The same as eval_static_run, but never starts the service (for threads
 * that may end before it should): -1 when none is running. */
int eval_static_ask(const char *code, double budget_s, json_object **out, double *secs);

/* The same analysis beside a sandbox run: eval_static_begin asks the
 * service on a thread of its own and returns 0, or -1 when the service is
 * off or has not answered yet in this process (the first call starts it,
 * which only eval_static_run does: the held interpreter dies with the thread
 * that started it). eval_static_end waits for the answer and returns what
 * eval_static_run would have; -1 then means the service failed meanwhile
 * (it is restarted by the next eval_static_run). `code` must stay valid
 * until eval_static_end. */
typedef struct eval_static_job {
	pthread_t thread;
	int started;
	const char *code;
	double budget_s, secs;
	json_object *out;
	int rc;
} eval_static_job;

int eval_static_begin(eval_static_job *j, const char *code, double budget_s);
int eval_static_end(eval_static_job *j, json_object **out, double *secs);

/* Ends the service (the next call starts another); for tests and exits. */
void eval_static_stop(void);

#endif
