/* eval.h - evaluate code in the sandbox and judge it against the criteria.
 *
 * eval_run() builds an "evaluate" request for the sandbox's harness (the code,
 * the tests in any supported form, the entry point, static checks), runs it on
 * the pre-forked pool (or cold when pool is NULL), parses the harness's answer
 * and applies the criteria. Any outcome of the code itself (syntax error,
 * exception, timeout, memory limit, empty or huge code) is a report with
 * passed = 0, not an error; eval_run fails only when the sandbox could not
 * run at all.
 *
 * Test forms (any mix in one `tests` text): assert lines (MBPP), a
 * `def check(candidate)` with entry_point (HumanEval; one case per assert in
 * check), pytest-style test_* functions (parametrize and pytest.raises work,
 * fixtures do not), unittest.TestCase methods, and a doctest transcript
 * (">>> " lines). Doctests in the code's docstrings run when there are no
 * other tests (see `doctests`). Each case is run under its own time limit;
 * a case that hangs or crashes the interpreter costs that case only. */
#ifndef LLMREPL_EVAL_H
#define LLMREPL_EVAL_H

#include "criteria.h"
#include "err.h"
#include "iotests.h"
#include "job.h"
#include "sbx.h"

#define EVAL_CODE_MAX (1u << 20) /* bytes of code (and of tests) accepted */

/* Asked between io cases: 0 to go on, else the code to stop with (and err
 * set), as lr_jobctx_check() answers. */
typedef int (*eval_stop_fn)(void *arg, lr_err *err);

typedef struct eval_request {
	const char *code;
	const char *tests;       /* NULL: none. assert lines, check(candidate), test_* or doctest */
	const char *entry_point; /* NULL: none (needed by check(candidate) tests) */
	const lr_criteria *criteria; /* NULL: defaults */
	sbx_limits limits;
	int static_checks; /* run pyflakes, bandit and radon (default on) */
	/* Zero means the default for each of these. */
	double test_timeout_s;  /* per test case; default min(3 s, half the time budget) */
	int doctests;           /* 0: the code's doctests run when there are no tests;
	                           1: always; -1: never */
	const char *stdin_text; /* what the code reads from stdin (input()); NULL: nothing */
	int isolate;            /* 1: every test in a process of its own from the start.
	                           0: in the sandbox's process first, isolated only when
	                           that run crashes or hangs beyond interruption */
	const lr_iotests *io;   /* the io form: `code` is a whole program, run once per
	                           case with the case's stdin under `limits`, its output
	                           judged on the host (eval_io.c); `tests` is ignored */
	const char *const *session_cells; /* a REPL session's recorded cells, run first
	                                     in the code's globals (session_use.h) */
	size_t session_ncells;
	eval_stop_fn stop; /* NULL, or asked before each io case */
	void *stop_arg;
} eval_request;

/* The sandbox settings evaluations want: a candidate factory beside the
 * harness (sbx_config.peer), so that the code under test runs in a process
 * of its own uid and the tests in a judge it cannot reach; LLMREPL_SPLIT=0
 * in the environment turns it off (the report then says integrity
 * "in_process"). The pool and eval_run's cfg must be given the same. */
void eval_sandbox_config(sbx_config *sc);

/* A request with the default limits and static checks on. */
void eval_request_default(eval_request *r);
/* A request for `code` with a job's tests, entry point, criteria, limits and
 * static checks (borrowed from the spec, which must outlive the request). */
void eval_request_from_spec(eval_request *r, const lr_job_spec *s, const char *code);

typedef struct eval_outcome {
	int passed;   /* the criteria's verdict */
	double score; /* 0..1, higher is better; ranks candidates */
	int tests_total;
	int tests_passed;
	char *result_json; /* the whole report: stdout, stderr, error, end, tests[],
	                      findings, metrics, criteria, verdict, score, feedback */
	char *error;       /* one line, the main failure (NULL when none) */
	char *feedback;    /* text for the model: most important problem first */
	char *summary;     /* one line for commit messages and events */
} eval_outcome;

int eval_run(eval_outcome *out, sbx_pool *pool, const sbx_config *cfg, const eval_request *req,
             lr_err *err);
void eval_outcome_free(eval_outcome *o); /* frees the members; accepts NULL */

#endif
