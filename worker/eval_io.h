/* eval_io.h - evaluating a whole program against io test cases.
 *
 * The judge is the host: the program never sees an expected output and
 * holds no channel a verdict is read from.
 *   1. A sandbox run that executes nothing of the code (llmrepl_io
 *      "io_prepare") says whether it is runnable at all (empty, too big, a
 *      syntax error) and runs the static tools on it.
 *   2. Each case is one run of the program (mode "exec", a fork of the
 *      pre-forked pool, or a cold run) with the case's stdin streamed to it
 *      through the request descriptor (the "LLMREPL-STDIN" framing) and the
 *      job's limits; the sandbox's host side captures stdout and stderr under
 *      the output cap.
 *   3. After the program has exited, its stdout is compared here with a
 *      built-in checker (common/iotests.h), or by the job's python checker in
 *      a sandbox run of its own that gets stdin, expected and actual output
 *      as data.
 * A case ends passed, failed (with a bounded diff), error (a non-zero exit:
 * an exception), timeout, memory, crashed (a signal), output (over the cap)
 * or not_run (after a failure when the job asks to stop on the first one).
 * The report has the harness's shape (tests[], tests_total, ...) with an `io`
 * object per case, and is judged by eval_judge like any other. */
#ifndef LLMREPL_EVAL_IO_H
#define LLMREPL_EVAL_IO_H

#include "buf.h"
#include "eval.h"

#define EVAL_IO_OUTPUT_MAX (64u << 20) /* stdout kept per case, at most */
#define EVAL_IO_SHOWN      2000        /* bytes of each stream kept in the report */

/* Run req->code against req->io under `lim` (req->limits with the defaults
 * filled in), as eval_run does. Returns 0 with *out filled, LR_EUNAVAIL when
 * the sandbox could not run, or what req->stop returned (a cancelled job
 * stops between cases). */
int eval_io_run(eval_outcome *out, sbx_pool *pool, const sbx_config *cfg, const eval_request *req,
                const sbx_limits *lim, lr_err *err);

/* One failing io case of a report, as the feedback shows it (eval_feedback.c
 * reads it from the report; strings may be NULL). */
typedef struct eval_io_view {
	const char *status;     /* failed, error, timeout, ... */
	const char *error_type; /* WrongAnswer, EOFError, ... */
	const char *message;    /* the diff or what went wrong */
	long line;              /* of the code, for an exception; 0 unknown */
	int detail;             /* show the streams (the first failing case) */
	const char *in, *expected, *actual, *err;
	long in_bytes, expected_bytes, actual_bytes; /* -1 unknown */
} eval_io_view;

/* What went wrong, on the lines under the case's name; with detail, its
 * input, the expected and the actual output and the end of its error output,
 * each bounded and indented. Returns lr_buf_error(b). */
int eval_io_case_text(lr_buf *b, const eval_io_view *v);

#endif
